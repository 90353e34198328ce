// Package accesstest gives tests the identities ops requires: since
// access.Check refuses a context without one, a test that acts says as whom.
package accesstest

import (
	"context"

	"github.com/opsdeck/opsdeck/ops/access"
)

// Admin returns ctx carrying an admin identity named "test-admin".
func Admin(ctx context.Context) context.Context {
	return access.WithIdentity(ctx, access.As("test-admin", access.Admin))
}

// As returns ctx carrying user with role in every environment.
func As(ctx context.Context, user string, role access.Role) context.Context {
	return access.WithIdentity(ctx, access.As(user, role))
}
