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

// The forwarding headers a proxy may set (PTG_FORWARDED_HEADER).
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// ParseForwardedHeader reads PTG_FORWARDED_HEADER: which one header the trusted
// proxies set.
func ParseForwardedHeader(v string) (string, error) {
	switch {
	case v == "" || strings.EqualFold(v, HeaderXForwardedFor):
		return HeaderXForwardedFor, nil
	case strings.EqualFold(v, HeaderForwarded):
		return HeaderForwarded, nil
	}
	return "", fmt.Errorf("%q is neither %s nor %s", v, HeaderXForwardedFor, HeaderForwarded)
}

// addressResolver finds the address a request came from. The forwarding
// header is believed only when the peer is a trusted proxy, and then only as
// far back as the chain stays within trusted proxies: the first untrusted hop,
// from the right, is the client. Only the one header the proxies set is read:
// a proxy appends to its own header and passes any other through as the client
// sent it, so believing the other would believe the client.
type addressResolver struct {
	trusted []netip.Prefix
	// header is HeaderXForwardedFor or HeaderForwarded.
	header string
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
	hops := forwardedHops(r.Header, a.header)
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

// forwardedHops lists the addresses of the forwarding chain in header, client
// first: Forwarded (RFC 7239) "for=" nodes, or X-Forwarded-For entries (which
// some proxies write with a port).
func forwardedHops(h http.Header, header string) []string {
	var hops []string
	if header == HeaderForwarded {
		for _, line := range h.Values(HeaderForwarded) {
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
	for _, line := range h.Values(HeaderXForwardedFor) {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, forwardedNode(hop))
		}
	}
	return hops
}

// forwardedNode reads one hop: an address, "[v6]:port" or "v4:port", possibly
// quoted (RFC 7239).
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
