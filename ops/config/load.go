package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads the configuration. With path "" it tries [SearchPaths] in order
// and, when none exists, returns Default() with environment overrides and
// Path "" (not an error: the caller may say that no file was found). An
// explicit path that does not exist is an error.
//
// The file is parsed strictly: unknown keys, values of the wrong kind and
// syntax errors are all reported, each as a [FieldError] located at
// FILE:LINE:COL, joined with errors.Join. Fields the file leaves unset keep
// their defaults; empty connection settings are then filled from the
// environment (see [Config.ApplyEnv]).
//
// Load does not call [Config.Validate]; callers should.
func Load(path string) (*Config, error) {
	if path == "" {
		for _, p := range SearchPaths() {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			cfg := Default()
			cfg.ApplyEnv()
			return cfg, nil
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config file %s does not exist: %w — check the --config path, or create it from `opsdeck config example`", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read config file %s: %w — check its permissions", path, err)
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	cfg.ApplyEnv()
	return cfg, nil
}

// Parse decodes configuration data onto Default() without applying the
// environment. name is used in error messages and becomes Config.Path.
func Parse(name string, data []byte) (*Config, error) {
	if err := checkDensity(name, data); err != nil {
		return nil, err
	}
	cfg := Default()
	cfg.Path = name
	m := cfg.ensureMeta()

	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		hint := "fix the YAML syntax (indent with spaces, quote values containing ': ' or '#')"
		// The message, not Error(): go-yaml's Error() prints the source
		// around the token, which costs as much as the line is long.
		if strings.Contains(yamlMessage(err), "already defined") {
			hint = "keep only one of them"
		}
		return nil, yamlError(name, err, hint)
	}
	var body ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			tk := doc.Start
			if tk == nil {
				tk = doc.Body.GetToken()
			}
			p := posOf(tk)
			return nil, &FieldError{File: name, Line: p.Line, Col: p.Col, Reason: "more than one YAML document", Hint: "remove the '---' separator and merge the documents"}
		}
		body = doc.Body
	}
	w := &walker{file: name, pos: m.pos}
	var envs []environment
	if body != nil {
		var key, value ast.Node
		if body, key, value = splitEnvironments(body); key != nil {
			envs = w.environments(key, value)
		}
	}
	if body == nil {
		// Empty or comments only: all defaults. (Decoding an empty
		// document would zero the defaults.)
		if len(w.errs) > 0 {
			return nil, errors.Join(w.errs...)
		}
		cfg.envs = envs
		return cfg, nil
	}

	w.walk("", body, reflect.TypeOf(Config{}))
	if len(w.errs) > 0 {
		return nil, errors.Join(w.errs...)
	}
	if err := yaml.NodeToValue(body, cfg, yaml.Strict()); err != nil {
		return nil, yamlError(name, err, "compare with `opsdeck config example`")
	}
	cfg.Path = name
	cfg.meta = m
	cfg.envs = envs
	cfg.normalize()
	return cfg, nil
}

// normalize expands "~" in paths.
func (c *Config) normalize() {
	c.StateDir = expandHome(c.StateDir)
	c.Backup.Dir = expandHome(c.Backup.Dir)
	c.Backup.Encryption.RecipientsFile = expandHome(c.Backup.Encryption.RecipientsFile)
	c.Backup.Encryption.IdentityFile = expandHome(c.Backup.Encryption.IdentityFile)
	c.Runbooks.Dir = expandHome(c.Runbooks.Dir)
	c.Kubernetes.Kubeconfig = expandHome(c.Kubernetes.Kubeconfig)
}

// yamlMessage is the message of a go-yaml error, without its source.
func yamlMessage(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return ye.GetMessage()
	}
	return err.Error()
}

// yamlError turns a go-yaml error into a located FieldError.
func yamlError(name string, err error, hint string) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		p := posOf(ye.GetToken())
		return &FieldError{File: name, Line: p.Line, Col: p.Col, Reason: ye.GetMessage(), Hint: hint, Err: err}
	}
	return &FieldError{File: name, Reason: err.Error(), Hint: hint, Err: err}
}
