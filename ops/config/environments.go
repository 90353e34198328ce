package config

import (
	"fmt"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/opsdeck/opsdeck/ops/access"
)

// environmentsKey is the top-level key of the named environments.
const environmentsKey = "environments"

// section is what one environment may set: its targets, its backup store
// and restore writers, threshold overrides, whether it is read-only and its
// colour. Keys an environment leaves out keep the top level's values, so a
// file states once what its environments share.
type section struct {
	// Name is the environment's name in the list form of environments:
	// ("- name: prod"); in the mapping form the key is the name.
	Name string `yaml:"name"`
	// ReadOnly hides and refuses every action in this environment.
	ReadOnly bool `yaml:"read_only"`
	// Colour marks the environment in the cockpit's header: a colour name
	// (red, green, yellow, blue, magenta, cyan, white, grey) or "#rrggbb".
	// An environment named prod or production is red unless set.
	Colour       string         `yaml:"colour"`
	Postgres     PostgresConfig `yaml:"postgres"`
	Redis        RedisConfig    `yaml:"redis"`
	Kubernetes   KubeConfig     `yaml:"kubernetes"`
	Prometheus   EndpointConfig `yaml:"prometheus"`
	Alertmanager EndpointConfig `yaml:"alertmanager"`
	Backup       BackupConfig   `yaml:"backup"`
	Restore      RestoreConfig  `yaml:"restore"`
	Thresholds   Thresholds     `yaml:"thresholds"`
}

var sectionType = reflect.TypeOf(section{})

// environment is one entry of environments: as written, decoded over the
// top level by ForEnv.
type environment struct {
	name string
	node ast.Node            // the section's mapping
	pos  map[string]position // its values, by path relative to the section
	at   position            // its name in the file
}

// envName is a valid environment name: it becomes a directory of the
// backup store, and having no '_' it is never taken for a backup set's
// ID (YYYYMMDD_HHMMSS) there.
var envName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Colours names the colours an environment may take besides "#rrggbb".
var Colours = []string{"red", "green", "yellow", "blue", "magenta", "cyan", "white", "grey"}

var hexColour = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// EnvNames returns the names of the configured environments, in the order
// of the file; a file without environments describes one, named
// access.DefaultEnv.
func (c *Config) EnvNames() []string {
	if len(c.envs) == 0 {
		return []string{access.DefaultEnv}
	}
	names := make([]string, len(c.envs))
	for i, e := range c.envs {
		names[i] = e.name
	}
	return names
}

// HasEnvironments reports whether the file names environments.
func (c *Config) HasEnvironments() bool { return len(c.envs) > 0 }

// EnvName returns the name of the environment this configuration is:
// access.DefaultEnv unless ForEnv made it.
func (c *Config) EnvName() string {
	if c.envName == "" {
		return access.DefaultEnv
	}
	return c.envName
}

// Colour returns the environment's colour: its colour setting, else red
// for an environment named prod or production, else "" (the cockpit's own).
func (c *Config) Colour() string {
	if c.colour != "" {
		return c.colour
	}
	switch c.EnvName() {
	case "prod", "production":
		return "red"
	}
	return ""
}

// ForEnv returns the effective configuration of environment name: the top
// level with the environment's section decoded over it (the keys it sets
// win; the others keep the top level's values). Its Env reports that name
// and the environment's read_only; OPSDECK_READ_ONLY still turns read-only
// on. A named environment other than access.DefaultEnv keeps its backups
// under "<env>" inside the store: the directory backup.dir/<env>, the S3
// prefix backup.s3.prefix/<env>/.
//
// An empty name picks the environment to use when none is chosen: the top
// level itself when the file names no environments, else the environment
// named access.DefaultEnv; without one it is an error listing the names.
// An unknown name is an error suggesting the closest known one.
func (c *Config) ForEnv(name string) (*Config, error) {
	if c.base != nil {
		return c.base.ForEnv(name)
	}
	if len(c.envs) == 0 {
		if name != "" && name != access.DefaultEnv {
			return nil, c.unknownEnv(name)
		}
		r := c.clone()
		r.envName, r.base = access.DefaultEnv, c
		return r, nil
	}
	if name == "" {
		if !slices.Contains(c.EnvNames(), access.DefaultEnv) {
			return nil, fmt.Errorf("%s names environments (%s) and none is chosen — pass --env NAME or set $OPSDECK_ENV, or name one of them %q",
				c.where(), strings.Join(c.EnvNames(), ", "), access.DefaultEnv)
		}
		name = access.DefaultEnv
	}
	i := slices.IndexFunc(c.envs, func(e environment) bool { return e.name == name })
	if i < 0 {
		return nil, c.unknownEnv(name)
	}
	return c.merge(c.envs[i])
}

func (c *Config) where() string {
	if c.Path == "" {
		return "the configuration"
	}
	return c.Path
}

func (c *Config) unknownEnv(name string) error {
	names := c.EnvNames()
	msg := fmt.Sprintf("unknown environment %q", name)
	if s := suggest(name, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s — %s names: %s", msg, c.where(), strings.Join(names, ", "))
}

// merge decodes e over a copy of the top level.
func (c *Config) merge(e environment) (*Config, error) {
	r := c.clone()
	r.Restore.Writers = slices.Clone(r.Restore.Writers)
	r.Postgres.Env = slices.Clone(r.Postgres.Env)
	sec := section{
		ReadOnly: r.ReadOnly, Postgres: r.Postgres, Redis: r.Redis, Kubernetes: r.Kubernetes,
		Prometheus: r.Prometheus, Alertmanager: r.Alertmanager, Backup: r.Backup,
		Restore: r.Restore, Thresholds: r.Thresholds,
	}
	if e.node != nil {
		if err := yaml.NodeToValue(e.node, &sec, yaml.Strict()); err != nil {
			return nil, yamlError(c.Path, err, "compare with `opsdeck config example`")
		}
	}
	r.ReadOnly, r.colour = sec.ReadOnly, sec.Colour
	r.Postgres, r.Redis, r.Kubernetes = sec.Postgres, sec.Redis, sec.Kubernetes
	r.Prometheus, r.Alertmanager = sec.Prometheus, sec.Alertmanager
	r.Backup, r.Restore, r.Thresholds = sec.Backup, sec.Restore, sec.Thresholds
	r.envName, r.base = e.name, c

	m := r.ensureMeta()
	if m.env["read_only"] != "" {
		r.ReadOnly = true // $OPSDECK_READ_ONLY never turns off
	} else {
		delete(m.env, "read_only")
	}
	m.scope = environmentsKey + "." + e.name + "."
	m.scoped = map[string]bool{}
	for p, at := range e.pos {
		m.pos[p] = at
		m.scoped[p] = true
		if p != "read_only" {
			delete(m.env, p)
		}
	}
	r.normalize()
	if e.name != access.DefaultEnv {
		r.Backup.Dir = filepath.Join(r.Backup.Dir, e.name)
		if r.Backup.S3.Bucket != "" {
			r.Backup.S3.Prefix = path.Join(r.Backup.S3.Prefix, e.name) + "/"
		}
	}
	return r, nil
}

// splitEnvironments takes the environments key out of the document's
// mapping and returns it: the rest is checked and decoded as before.
func splitEnvironments(body ast.Node) (rest ast.Node, key, value ast.Node) {
	isEnvs := func(mv *ast.MappingValueNode) bool {
		return mv != nil && mv.Key != nil && mv.Key.GetToken() != nil && mv.Key.GetToken().Value == environmentsKey
	}
	switch b := body.(type) {
	case *ast.MappingValueNode:
		if isEnvs(b) {
			return nil, b.Key, b.Value
		}
	case *ast.MappingNode:
		for i, mv := range b.Values {
			if isEnvs(mv) {
				b.Values = slices.Delete(slices.Clone(b.Values), i, i+1)
				return b, mv.Key, mv.Value
			}
		}
	}
	return body, nil, nil
}

// environments reads the environments section: a mapping of names to
// sections, or a list of sections with a name each.
func (w *walker) environments(key, n ast.Node) []environment {
	n, ok := unwrap(n)
	if !ok {
		w.fail(posOf(key.GetToken()), environmentsKey, "cannot be an alias", "write the environments out; a merge key (<<: *base) inside one is fine")
		return nil
	}
	var envs []environment
	seen := map[string]position{}
	add := func(name string, at position, field string, v ast.Node) {
		switch {
		case len(name) > 63 || !envName.MatchString(name):
			w.fail(at, field, fmt.Sprintf("%q is not a valid environment name", name), "use lowercase letters, digits and '-', such as prod or staging")
			return
		case seen[name] != (position{}):
			w.fail(at, field, fmt.Sprintf("environment %q is named twice (first on line %d)", name, seen[name].Line), "keep only one")
			return
		}
		seen[name] = at
		ew := &walker{file: w.file, pos: map[string]position{}}
		scope := environmentsKey + "." + name
		ew.walk(scope, v, sectionType)
		w.errs = append(w.errs, ew.errs...)
		e := environment{name: name, node: v, at: at, pos: map[string]position{}}
		for p, at := range ew.pos {
			if rel, ok := strings.CutPrefix(p, scope+"."); ok {
				e.pos[rel] = at
			}
		}
		w.pos[scope] = at
		if v != nil {
			var sec section
			if err := yaml.NodeToValue(v, &sec, yaml.Strict()); err != nil && len(ew.errs) == 0 {
				w.errs = append(w.errs, yamlError(w.file, err, "compare with `opsdeck config example`"))
			} else if sec.Name != "" && sec.Name != name {
				w.fail(e.pos["name"], scope+".name", fmt.Sprintf("%q differs from the key %q", sec.Name, name), "remove name: the key names the environment")
			}
		}
		envs = append(envs, e)
	}
	switch x := n.(type) {
	case *ast.NullNode:
	case ast.MapNode:
		it := x.MapRange()
		for it.Next() {
			k := it.Key()
			name := k.GetToken().Value
			add(name, posOf(k.GetToken()), environmentsKey+"."+name, it.Value())
		}
	case *ast.SequenceNode:
		for i, v := range x.Values {
			field := fmt.Sprintf("%s[%d]", environmentsKey, i)
			name, at := sectionName(v)
			if name == "" {
				w.fail(at, field, "has no name", `start it with "- name: staging"`)
				continue
			}
			add(name, at, field, v)
		}
	default:
		w.fail(posOf(n.GetToken()), environmentsKey, "expected a mapping of environment names to their settings, got "+describe(n), "write e.g. \"environments:\\n  staging:\\n    postgres: …\"")
	}
	return envs
}

// sectionName returns the name key of a list entry, and where it is.
func sectionName(v ast.Node) (string, position) {
	at := posOf(v.GetToken())
	v, _ = unwrap(v)
	mn, ok := v.(ast.MapNode)
	if !ok {
		return "", at
	}
	it := mn.MapRange()
	for it.Next() {
		if it.Key().GetToken().Value == "name" {
			val, _ := unwrap(it.Value())
			if s, ok := val.(*ast.StringNode); ok {
				return s.Value, posOf(s.GetToken())
			}
			return "", posOf(it.Value().GetToken())
		}
	}
	return "", at
}

// validateEnvironments checks each environment's effective configuration
// (reporting what the top level already reported once) and that no two
// share a backup store.
func (c *Config) validateEnvironments(top []error) []error {
	if c.envName != "" || len(c.envs) == 0 {
		return nil
	}
	reported := map[string]bool{}
	for _, err := range top {
		reported[err.Error()] = true
	}
	var errs []error
	stores := map[string]string{}
	for _, e := range c.envs {
		eff, err := c.merge(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if verr := eff.Validate(); verr != nil {
			for _, err := range unjoin(verr) {
				if !reported[err.Error()] {
					reported[err.Error()] = true
					errs = append(errs, err)
				}
			}
		}
		if eff.colour != "" && !slices.Contains(Colours, eff.colour) && !hexColour.MatchString(eff.colour) {
			errs = append(errs, eff.fieldError([]string{"colour"}, fmt.Sprintf("%q is not a colour", eff.colour), "use one of "+strings.Join(Colours, ", ")+`, or "#rrggbb"`, nil))
		}
		loc := storeLocation(eff.Backup)
		if other, shared := stores[loc]; shared {
			// Located at the environment's own store setting, else its name.
			fe := &FieldError{File: c.Path, Line: e.at.Line, Col: e.at.Col, Field: environmentsKey + "." + e.name,
				Reason: fmt.Sprintf("environments %s and %s share the backup store %s", other, e.name, loc),
				Hint:   "give each environment its own backup.dir or backup.s3.prefix: one's prune would delete the other's sets"}
			for _, p := range []string{"backup.s3.prefix", "backup.s3.bucket", "backup.dir", "backup"} {
				if at, ok := e.pos[p]; ok {
					fe.Field, fe.Line, fe.Col = environmentsKey+"."+e.name+"."+p, at.Line, at.Col
					break
				}
			}
			errs = append(errs, fe)
		}
		stores[loc] = e.name
	}
	return errs
}

// storeLocation names where a backup store keeps its sets.
func storeLocation(b BackupConfig) string {
	if b.S3.Bucket != "" {
		return fmt.Sprintf("s3://%s/%s/%s", b.S3.Endpoint, b.S3.Bucket, strings.Trim(b.S3.Prefix, "/"))
	}
	return filepath.Clean(b.Dir)
}

// unjoin returns the errors joined in err.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
