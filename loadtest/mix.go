package loadtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Op names a class of requests in the report.
type Op string

// The paced operations: the open-loop mix sent at the constant rate.
const (
	OpKeyRead      Op = "key_read"      // { viewer { role } } with a ptg_ key
	OpTokenRead    Op = "token_read"    // the same with an access token
	OpTokenRequest Op = "token_request" // client credentials grant
	OpKeyCreate    Op = "key_create"    // createApiKey
	OpKeyRevoke    Op = "key_revoke"    // revokeApiKey of a key the harness created
)

// The probes and the OAuth client cycle: sent in addition to the paced rate.
const (
	ProbeKeyCreated      Op = "probe_key_created"       // a new key, used at once
	ProbeKeyListed       Op = "probe_key_listed"        // the same key later: works and is listed
	ProbeKeyRevoked      Op = "probe_key_revoked"       // a revoked key, the next request
	ProbeKeyRevokedLater Op = "probe_key_revoked_later" // the same key later
	OpClientCreate       Op = "client_create"           // createOAuthClient (client cycle)
	OpClientToken        Op = "client_token"            // a token for the new client
	ProbeClientToken     Op = "probe_client_token"      // the new client's token works
	OpClientRevoke       Op = "client_revoke"           // revokeOAuthClient
	ProbeClientTokenGone Op = "probe_client_token_revoked"
	ProbeClientSecret    Op = "probe_client_secret_revoked"
	OpCleanupRevoke      Op = "cleanup_revoke" // revocations after the timed run
	OpSweep              Op = "sweep_list"     // the final listing check
)

// PacedOps are the operations of the mix, in report order.
var PacedOps = []Op{OpKeyRead, OpTokenRead, OpTokenRequest, OpKeyCreate, OpKeyRevoke}

// ProbeOps are the other request classes, in report order.
var ProbeOps = []Op{
	ProbeKeyCreated, ProbeKeyListed, ProbeKeyRevoked, ProbeKeyRevokedLater,
	OpClientCreate, OpClientToken, ProbeClientToken, OpClientRevoke, ProbeClientTokenGone, ProbeClientSecret,
	OpCleanupRevoke, OpSweep,
}

// Mix holds the relative weight of each paced operation.
type Mix map[Op]float64

// DefaultMix is read-heavy like a real deployment, with key creation and
// revocation at 0.2 % each: 0.6 of each per second at 300 requests/s, 36
// creations a minute, which stays under the server's default creation limit of
// 60 a minute per person together with the setup and the client cycle.
func DefaultMix() Mix {
	return Mix{OpKeyRead: 60, OpTokenRead: 25, OpTokenRequest: 14.6, OpKeyCreate: 0.2, OpKeyRevoke: 0.2}
}

// ParseMix reads "key_read=60,token_read=25,...". Operations left out weigh 0;
// at least one must weigh more than 0.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix: %q is not op=weight", part)
		}
		op := Op(strings.TrimSpace(name))
		if !isPaced(op) {
			return nil, fmt.Errorf("mix: unknown operation %q (want one of %s)", op, opList(PacedOps))
		}
		if _, dup := m[op]; dup {
			return nil, fmt.Errorf("mix: %s given twice", op)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || w < 0 || w != w || w > 1e9 {
			return nil, fmt.Errorf("mix: weight of %s must be a number ≥ 0, got %q", op, value)
		}
		m[op] = w
	}
	if m.total() <= 0 {
		return nil, fmt.Errorf("mix: at least one operation needs a weight above 0")
	}
	return m, nil
}

// String is the canonical form ParseMix reads back.
func (m Mix) String() string {
	var parts []string
	for _, op := range PacedOps {
		if w := m[op]; w > 0 {
			parts = append(parts, string(op)+"="+strconv.FormatFloat(w, 'g', -1, 64))
		}
	}
	return strings.Join(parts, ",")
}

// Share is op's fraction of the paced requests.
func (m Mix) Share(op Op) float64 {
	t := m.total()
	if t <= 0 {
		return 0
	}
	return m[op] / t
}

func (m Mix) total() float64 {
	var t float64
	for _, op := range PacedOps {
		t += m[op]
	}
	return t
}

func isPaced(op Op) bool {
	for _, p := range PacedOps {
		if p == op {
			return true
		}
	}
	return false
}

func opList(ops []Op) string {
	s := make([]string, len(ops))
	for i, op := range ops {
		s[i] = string(op)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// scheduler deals operations in proportion to their weights by smooth weighted
// round robin (as nginx balances upstreams): the sequence is deterministic and
// evenly interleaved, so a rare operation comes at a steady interval instead of
// in random clumps, and every window of the run has the mix's proportions.
type scheduler struct {
	mu      sync.Mutex
	ops     []Op
	weights []float64
	current []float64
	total   float64
}

func newScheduler(m Mix) *scheduler {
	s := &scheduler{}
	for _, op := range PacedOps {
		if w := m[op]; w > 0 {
			s.ops = append(s.ops, op)
			s.weights = append(s.weights, w)
			s.total += w
		}
	}
	s.current = make([]float64, len(s.ops))
	return s
}

// next returns the operation of the next paced request.
func (s *scheduler) next() Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := 0
	for i, w := range s.weights {
		s.current[i] += w
		if s.current[i] > s.current[best] {
			best = i
		}
	}
	s.current[best] -= s.total
	return s.ops[best]
}
