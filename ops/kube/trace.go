package kube

import (
	"net/http"
	"time"

	"github.com/opsdeck/opsdeck/ops/logging"
)

// traceTransport wraps the client's transport (rest.Config.WrapTransport,
// inside the authentication wrappers, so it never sees a credential): one
// debug record (class kube) per API request with the server, the method,
// the path (no query), the HTTP status, the time to the response's headers
// and the outcome. A watch is recorded when its stream starts.
func traceTransport(host string) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		if _, ok := rt.(*tracingRT); ok {
			return rt // a config copied from a traced one
		}
		return &tracingRT{next: rt, host: host}
	}
}

type tracingRT struct {
	next http.RoundTripper
	host string
}

func (t *tracingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !logging.Enabled(ctx) {
		return t.next.RoundTrip(req)
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	callErr := err
	if callErr == nil && status >= 400 {
		callErr = httpStatusError(status)
	}
	logging.Call(ctx, logging.ClassKube, "kube request", start, callErr, logging.KeyTarget, t.host,
		logging.KeyMethod, req.Method, logging.KeyPath, req.URL.Path, logging.KeyHTTPStatus, status)
	return resp, err
}

// httpStatusError is an error answer, for the record's outcome.
type httpStatusError int

func (e httpStatusError) Error() string { return http.StatusText(int(e)) }

// WrappedRoundTripper lets client-go see the transport beneath
// (utilnet.RoundTripperWrapper).
func (t *tracingRT) WrappedRoundTripper() http.RoundTripper { return t.next }
