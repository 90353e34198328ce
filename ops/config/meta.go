package config

// position is a 1-based line and column in the config file.
type position struct{ Line, Col int }

// meta records the origin of configuration values, keyed by field path
// ("thresholds.cpu_percent.warn", "kubernetes.namespaces[1]").
type meta struct {
	pos map[string]position // values read from the file
	env map[string]string   // values taken from environment variables
	// scope prefixes the paths in scoped, the values an environment's
	// section set ("environments.staging."), in messages.
	scope  string
	scoped map[string]bool
}

func (c *Config) ensureMeta() *meta {
	if c.meta == nil {
		c.meta = &meta{pos: map[string]position{}, env: map[string]string{}}
	}
	return c.meta
}

// clone returns a deep copy of m (nil stays nil).
func (m *meta) clone() *meta {
	if m == nil {
		return nil
	}
	c := &meta{pos: make(map[string]position, len(m.pos)), env: make(map[string]string, len(m.env))}
	for k, v := range m.pos {
		c.pos[k] = v
	}
	for k, v := range m.env {
		c.env[k] = v
	}
	c.scope = m.scope
	if m.scoped != nil {
		c.scoped = make(map[string]bool, len(m.scoped))
		for k, v := range m.scoped {
			c.scoped[k] = v
		}
	}
	return c
}

// Line returns the line of the file that set the field at path (a dotted
// yaml path such as "postgres.dsn"), or 0 when the value did not come from
// the file.
func (c *Config) Line(path string) int {
	if c == nil || c.meta == nil {
		return 0
	}
	return c.meta.pos[path].Line
}

// EnvSource returns the environment variable(s) the field at path was taken
// from, or "".
func (c *Config) EnvSource(path string) string {
	if c == nil || c.meta == nil {
		return ""
	}
	return c.meta.env[path]
}

// fieldError builds a FieldError for the field at the first of paths that
// has a known origin (else the first path), located in the file when the
// value came from it.
func (c *Config) fieldError(paths []string, reason, hint string, err error) *FieldError {
	fe := &FieldError{Field: paths[0], Reason: reason, Hint: hint, Err: err}
	if c.meta == nil {
		return fe
	}
	for _, p := range paths {
		if env, ok := c.meta.env[p]; ok {
			fe.Field, fe.Env = p, env
			return fe
		}
		if pos, ok := c.meta.pos[p]; ok {
			fe.Field, fe.File, fe.Line, fe.Col = p, c.Path, pos.Line, pos.Col
			if c.meta.scoped[p] {
				fe.Field = c.meta.scope + p
			}
			return fe
		}
	}
	return fe
}
