package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// DangerousCommands are the commands a client without business there must
// not be able to run, with the arguments ACL DRYRUN needs to judge them.
var DangerousCommands = [][]string{
	{"FLUSHALL"}, {"FLUSHDB"}, {"CONFIG", "GET", "maxmemory"}, {"DEBUG", "SLEEP", "0"}, {"KEYS", "*"},
}

// Security is what `maintain security` needs to know about a Redis server.
// A fact that could not be read is named in Missing with the reason; the
// password itself is never read into it.
type Security struct {
	Version string `json:"version"`
	// DefaultUser describes the ACL user "default" (the one clients without
	// a user name are); nil when it could not be read.
	DefaultUser *ACLUser `json:"default_user,omitempty"`
	// ProtectedMode is the protected-mode setting ("yes"/"no"), "" unknown.
	ProtectedMode string `json:"protected_mode"`
	// Bind is the bind setting, "" unknown.
	Bind string `json:"bind"`
	// Dangerous lists the dangerous commands that exist (are not renamed
	// away) and, where ACL DRYRUN can tell, that the default user may run.
	Dangerous []string `json:"dangerous"`
	// DangerousChecked says whether the default user's right to each
	// command was checked (ACL DRYRUN, Redis 7) or only their existence.
	DangerousChecked bool `json:"dangerous_checked"`
	// Missing maps a fact ("acl", "config", "commands") to why it is unknown.
	Missing map[string]string `json:"missing,omitempty"`
}

// ACLUser is one ACL user's flags.
type ACLUser struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	NoPass  bool   `json:"nopass"`
	// AllCommands means the user may run every command (+@all with
	// nothing taken away).
	AllCommands bool `json:"all_commands"`
}

// ReadSecurity reads the security facts with ACL GETUSER, CONFIG GET,
// COMMAND INFO and ACL DRYRUN; each that the server refuses is noted in
// Missing and the others are still read. Failing to reach the server is an
// *Error.
func ReadSecurity(ctx context.Context, client *goredis.Client) (Security, error) {
	t := targetOf(client.Options())
	s := Security{Missing: map[string]string{}}
	info, err := client.Info(ctx, "server").Result()
	if err != nil {
		return s, wrapErr(err, t)
	}
	s.Version, _ = ParseInfo(info).Get("server", "redis_version")

	user, err := client.Do(ctx, "ACL", "GETUSER", "default").Result()
	switch {
	case err == nil:
		s.DefaultUser = parseACLUser("default", user)
	case isReplyErr(err):
		s.Missing["acl"] = refusal("ACL GETUSER", err)
	default:
		return s, wrapErr(err, t)
	}

	for _, name := range []string{"protected-mode", "bind"} {
		vals, err := client.ConfigGet(ctx, name).Result()
		switch {
		case err == nil:
			if name == "protected-mode" {
				s.ProtectedMode = vals[name]
			} else {
				s.Bind = vals[name]
			}
		case isReplyErr(err):
			s.Missing["config"] = refusal("CONFIG GET", err)
		default:
			return s, wrapErr(err, t)
		}
	}

	// Redis 7 blocks DEBUG unless enable-debug-command allows it.
	debugOff := false
	if vals, err := client.ConfigGet(ctx, "enable-debug-command").Result(); err == nil && vals["enable-debug-command"] == "no" {
		debugOff = true
	}
	dryrun := true
	for _, cmd := range DangerousCommands {
		if cmd[0] == "DEBUG" && debugOff {
			continue
		}
		exists, err := commandExists(ctx, client, cmd[0])
		if err != nil {
			if !isReplyErr(err) {
				return s, wrapErr(err, t)
			}
			s.Missing["commands"] = refusal("COMMAND INFO", err)
			break
		}
		if !exists {
			continue
		}
		allowed := true
		if dryrun {
			args := append([]any{"ACL", "DRYRUN", "default"}, toAny(cmd)...)
			res, err := client.Do(ctx, args...).Result()
			switch {
			case err == nil:
				allowed = fmt.Sprint(res) == "OK"
			case isReplyErr(err) && strings.Contains(strings.ToLower(err.Error()), "not allowed"):
				allowed = false // Redis 7.0 answers some refusals as errors
			case isReplyErr(err):
				dryrun = false // no DRYRUN (Redis 6) or not permitted: existence only
			default:
				return s, wrapErr(err, t)
			}
		}
		if allowed {
			s.Dangerous = append(s.Dangerous, cmd[0])
		}
	}
	s.DangerousChecked = dryrun && s.Missing["commands"] == ""
	if len(s.Missing) == 0 {
		s.Missing = nil
	}
	return s, nil
}

// commandExists asks COMMAND INFO whether name is a command of the server
// (a command renamed away with rename-command is not).
func commandExists(ctx context.Context, client *goredis.Client, name string) (bool, error) {
	res, err := client.Do(ctx, "COMMAND", "INFO", name).Slice()
	if err != nil {
		return false, err
	}
	return len(res) == 1 && res[0] != nil, nil
}

// parseACLUser reads ACL GETUSER's reply (RESP2 list or RESP3 map of
// "flags", "passwords", "commands", ...).
func parseACLUser(name string, reply any) *ACLUser {
	fields := map[string]any{}
	switch r := reply.(type) {
	case []any:
		for i := 0; i+1 < len(r); i += 2 {
			fields[fmt.Sprint(r[i])] = r[i+1]
		}
	case map[any]any:
		for k, v := range r {
			fields[fmt.Sprint(k)] = v
		}
	}
	u := &ACLUser{Name: name}
	if flags, ok := fields["flags"].([]any); ok {
		for _, f := range flags {
			switch fmt.Sprint(f) {
			case "on":
				u.Enabled = true
			case "nopass":
				u.NoPass = true
			case "allcommands":
				u.AllCommands = true
			}
		}
	}
	if cmds, ok := fields["commands"].(string); ok {
		// "+@all" alone; "+@all -flushall ..." takes some away.
		f := strings.Fields(cmds)
		u.AllCommands = slices.Contains(f, "+@all") && !slices.ContainsFunc(f, func(s string) bool { return strings.HasPrefix(s, "-") })
	}
	return u
}

func isReplyErr(err error) bool {
	var rerr goredis.Error
	return errors.As(err, &rerr) && !errors.Is(err, goredis.Nil)
}

func refusal(what string, err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "NOPERM") {
		return fmt.Sprintf("%s refused (%s) — grant the ACL user the command, or check with an admin user", what, msg)
	}
	if strings.Contains(strings.ToLower(msg), "unknown command") {
		return fmt.Sprintf("%s is not available on this server (renamed, or older than Redis 6)", what)
	}
	return fmt.Sprintf("%s failed: %s", what, msg)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
