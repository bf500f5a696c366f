package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// postTransport is GraphQL-over-HTTP POST. It replaces gqlgen's, which echoes an
// undecodable body back in its error message: ours never repeats the request, and
// refuses batches and wrong content types with a clear error.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

// Supports claims every POST, so that a wrong content type gets our error rather
// than a generic "transport not supported".
func (postTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == ""
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseType(r)
	w.Header().Set("Content-Type", contentType)

	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != mediaJSON {
		writeRequestError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeRequestError(w, http.StatusRequestEntityTooLarge, "the request body is too large")
			return
		}
		writeRequestError(w, http.StatusBadRequest, "the request body could not be read")
		return
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		writeRequestError(w, http.StatusBadRequest, "batched requests are not supported; send one JSON object")
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil || dec.More() {
		writeRequestError(w, http.StatusBadRequest,
			`the request body must be one JSON object {"query": "...", "variables": {...}}`)
		return
	}
	if strings.TrimSpace(params.Query) == "" {
		writeRequestError(w, http.StatusBadRequest, "the request has no query")
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	rc, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		w.WriteHeader(statusFor(contentType, opErr))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// responseType picks the response media type from Accept: the GraphQL response
// type when asked for, else application/json (the legacy default).
func responseType(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON:
			return mediaJSON
		}
	}
	return mediaJSON
}

// statusFor follows GraphQL over HTTP: a request that never executed is 400 with
// the GraphQL response type, 422 with plain JSON (gqlgen's convention).
func statusFor(contentType string, errs gqlerror.List) int {
	if errcode.GetErrorKind(errs) != errcode.KindProtocol {
		return http.StatusOK
	}
	if contentType == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

func writeRequestError(w http.ResponseWriter, status int, msg string) {
	w.WriteHeader(status)
	e := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": "BAD_REQUEST"}}
	writeResponse(w, &graphql.Response{Errors: gqlerror.List{e}})
}

func writeResponse(w io.Writer, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	_, _ = w.Write(b)
}
