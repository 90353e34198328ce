package audit

import (
	"errors"
	"time"
)

// Result values of a Record.
const (
	ResultOK      = "ok"
	ResultError   = "error"
	ResultRefused = "refused"
)

// ErrReadOnly is returned (wrapped) by every action attempted while opsdeck
// runs read-only; [Entry.End] records such an action as refused.
var ErrReadOnly = errors.New("opsdeck is read-only — unset read_only / OPSDECK_READ_ONLY to allow changes")

// ErrRefused marks an action that was not carried out because a safety check
// or a confirmation said no; [Entry.End] records it as refused.
var ErrRefused = errors.New("action refused")

// SSH identifies the person behind an action taken over `opsdeck serve`.
type SSH struct {
	User           string `json:"user"`
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	KeyComment     string `json:"key_comment,omitempty"`
	RemoteAddr     string `json:"remote_addr,omitempty"`
}

// Record is one line of the audit log.
type Record struct {
	ID         string         `json:"id"`
	Who        string         `json:"who"`
	SSH        *SSH           `json:"ssh,omitempty"`
	Action     string         `json:"action"`
	Target     string         `json:"target"`
	Params     map[string]any `json:"params,omitempty"`
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end"`
	DurationMS int64          `json:"duration_ms"`
	Result     string         `json:"result"`
	Error      string         `json:"error,omitempty"`
	// OpsdeckVersion is the version of the opsdeck that acted.
	OpsdeckVersion string `json:"opsdeck_version,omitempty"`
}

// resultOf classifies an action's outcome.
func resultOf(err error) string {
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, ErrReadOnly), errors.Is(err, ErrRefused):
		return ResultRefused
	default:
		return ResultError
	}
}
