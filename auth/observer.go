package auth

// Observer learns what authentication does, for metrics. Its methods must be
// cheap and must not block; they never receive a secret or a credential id.
type Observer interface {
	// Authentication reports one attempt: how the caller tried (API_KEY,
	// ACCESS_TOKEN, SESSION, CLIENT_SECRET) and the outcome (success,
	// malformed, expired, rejected or error).
	Authentication(method Method, outcome string)
	// CacheLookup reports one look into the authentication cache.
	CacheLookup(hit bool)
	// TokenIssued reports one access token signed.
	TokenIssued()
}

// The outcomes Observer.Authentication reports.
const (
	OutcomeSuccess   = "success"
	OutcomeMalformed = "malformed"
	OutcomeExpired   = "expired"
	OutcomeRejected  = "rejected"
	OutcomeError     = "error"
)

type nopObserver struct{}

func (nopObserver) Authentication(Method, string) {}
func (nopObserver) CacheLookup(bool)              {}
func (nopObserver) TokenIssued()                  {}

// outcomeOf names the outcome of an authentication that returned err.
func outcomeOf(err error) string {
	if err == nil {
		return OutcomeSuccess
	}
	e, ok := errorOf(err)
	switch {
	case !ok || e.Kind != KindUnauthenticated:
		return OutcomeError
	case e.Message == msgMalformed:
		return OutcomeMalformed
	case e.Message == msgExpired:
		return OutcomeExpired
	}
	return OutcomeRejected
}

// observed reports an authentication of method to the observer and passes its
// result on.
func (a *Authenticator) observed(method Method, p *Principal, err error) (*Principal, error) {
	a.observer.Authentication(method, outcomeOf(err))
	return p, err
}
