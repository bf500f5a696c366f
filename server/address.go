package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads PTG_TRUSTED_PROXIES: CIDRs (or single addresses)
// separated by commas or spaces.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an address", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// addressResolver finds the address a request came from. Forwarding headers
// (X-Forwarded-For, Forwarded) are believed only when the peer is a trusted
// proxy, and then only as far back as the chain stays within trusted proxies:
// the first untrusted hop, from the right, is the client. Anyone else could
// claim any address in them.
type addressResolver struct {
	trusted []netip.Prefix
}

func (a addressResolver) isTrusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range a.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// resolve returns the client's address for r.
func (a addressResolver) resolve(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(a.trusted) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !a.isTrusted(peer) {
		return host
	}
	hops := forwardedHops(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(hops[i])
		if err != nil {
			// A garbled hop cannot be trusted further back: the last good
			// address is the client as far as we can tell.
			return peer.Unmap().String()
		}
		if !a.isTrusted(hop) {
			return hop.Unmap().String()
		}
		peer = hop
	}
	return peer.Unmap().String()
}

// forwardedHops lists the addresses of the forwarding chain, client first:
// from Forwarded (RFC 7239) when present, else from X-Forwarded-For.
func forwardedHops(h http.Header) []string {
	var hops []string
	if fwd := h.Values("Forwarded"); len(fwd) > 0 {
		for _, line := range fwd {
			for elem := range strings.SplitSeq(line, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(k, "for") {
						hops = append(hops, forwardedNode(v))
					}
				}
			}
		}
		return hops
	}
	for _, line := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// forwardedNode reads an RFC 7239 node: an address, "[v6]:port" or "v4:port",
// possibly quoted.
func forwardedNode(v string) string {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if strings.HasPrefix(v, "[") {
		if end := strings.Index(v, "]"); end > 0 {
			return v[1:end]
		}
	}
	if host, _, err := net.SplitHostPort(v); err == nil {
		return host
	}
	return v
}
