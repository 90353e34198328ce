package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsdeck/opsdeck/ops/access"
	"github.com/opsdeck/opsdeck/ops/audit"
)

// The audit actions of this package.
const (
	ActionSilenceCreate = string(access.SilenceCreate)
	ActionSilenceExpire = string(access.SilenceExpire)
)

// MaxSilence bounds a silence's duration.
const MaxSilence = 7 * 24 * time.Hour

// Silencer creates and expires silences, refusing in read-only mode and
// recording every attempt in the audit log.
type Silencer struct {
	Client *Client
	// Audit records the actions (nil: no record).
	Audit *audit.Log
	// Env is the environment the silences belong to; a read-only one
	// refuses every change.
	Env access.Env
	// Who is the silence's createdBy (default: the user of the identity
	// the context carries).
	Who string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Silence mutes alert a for d (at most MaxSilence) with a silence matching
// all its labels, and returns the silence's ID.
func (s Silencer) Silence(ctx context.Context, a Alert, d time.Duration, comment string) (string, error) {
	target := "alertname=" + a.Name
	if err := access.Check(ctx, s.Env, access.SilenceCreate); err != nil {
		return "", s.refuse(ctx, ActionSilenceCreate, target, fmt.Errorf("silencing %s: %w", a.Name, err))
	}
	if s.Client == nil {
		return "", errors.New("no Alertmanager configured: set alertmanager.url to silence alerts")
	}
	if a.Source != SourceAlertmanager {
		return "", s.refuse(ctx, ActionSilenceCreate, target, fmt.Errorf("%s is evaluated by opsdeck, not Alertmanager: nothing to silence: %w", a.Name, audit.ErrRefused))
	}
	if d <= 0 || d > MaxSilence {
		return "", s.refuse(ctx, ActionSilenceCreate, target, fmt.Errorf("a silence of %v: %w — use a duration from 1m to %v", d, audit.ErrRefused, MaxSilence))
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	who := s.Who
	if id, ok := access.FromContext(ctx); ok && who == "" {
		who = id.User
	}
	if strings.TrimSpace(comment) == "" {
		comment = "silenced from opsdeck"
	}
	spec := SilenceSpec{Matchers: MatchersFor(a), StartsAt: now(), EndsAt: now().Add(d), CreatedBy: who, Comment: comment}
	matchers := make([]string, 0, len(spec.Matchers))
	for _, m := range spec.Matchers {
		matchers = append(matchers, m.String())
	}
	e := access.Audit(ctx, s.Audit).Begin(ActionSilenceCreate, target, map[string]any{
		"alertmanager": s.Client.Host(), "matchers": strings.Join(matchers, ","), "duration": d.String(), "comment": comment,
	})
	id, err := s.Client.CreateSilence(ctx, spec)
	return id, joinAudit(err, e.End(err))
}

// Expire ends the silence with id.
func (s Silencer) Expire(ctx context.Context, id string) error {
	target := "silence/" + id
	if err := access.Check(ctx, s.Env, access.SilenceExpire); err != nil {
		return s.refuse(ctx, ActionSilenceExpire, target, fmt.Errorf("expiring silence %s: %w", id, err))
	}
	if s.Client == nil {
		return errors.New("no Alertmanager configured: set alertmanager.url to manage silences")
	}
	e := access.Audit(ctx, s.Audit).Begin(ActionSilenceExpire, target, map[string]any{"alertmanager": s.Client.Host()})
	err := s.Client.ExpireSilence(ctx, id)
	return joinAudit(err, e.End(err))
}

// refuse records a refused action and returns reason.
func (s Silencer) refuse(ctx context.Context, action, target string, reason error) error {
	return joinAudit(reason, access.Audit(ctx, s.Audit).Refuse(action, target, reason))
}

// joinAudit adds a failed audit write to the action's outcome.
func joinAudit(err, auditErr error) error {
	if auditErr != nil {
		return errors.Join(err, fmt.Errorf("the audit record could not be written: %w", auditErr))
	}
	return err
}
