package config

import (
	"errors"
	"testing"
)

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		e    FieldError
		want string
	}{
		{"full", FieldError{File: "o.yaml", Line: 3, Col: 5, Field: "a.b", Reason: "bad", Hint: "fix it"}, "o.yaml:3:5: field a.b: bad — fix it"},
		{"no column", FieldError{File: "o.yaml", Line: 3, Field: "a", Reason: "bad"}, "o.yaml:3: field a: bad"},
		{"not from file", FieldError{Field: "a", Reason: "bad", Hint: "h"}, "field a: bad — h"},
		{"from env", FieldError{File: "o.yaml", Field: "postgres.dsn", Env: "DATABASE_URL", Reason: "bad"}, "field postgres.dsn (from $DATABASE_URL): bad"},
		{"document", FieldError{File: "o.yaml", Line: 1, Col: 1, Reason: `unknown field "x"`}, `o.yaml:1:1: unknown field "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	inner := errors.New("inner")
	if !errors.Is(&FieldError{Err: inner}, inner) {
		t.Error("Unwrap does not expose the cause")
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"thresholds", "timeouts", "postgres", "redis", "read_only", "cpu_percent", "memory_percent"}
	tests := []struct{ in, want string }{
		{"thresholdz", "thresholds"},
		{"Thresholds", "thresholds"},
		{"timeout", "timeouts"},
		{"postgress", "postgres"},
		{"readonly", "read_only"},
		{"cpu", "cpu_percent"},
		{"memory", "memory_percent"},
		{"kafka", ""},
		{"zz", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"thresholdz", "thresholds", 1}, {"é", "e", 1},
	}
	for _, tt := range tests {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
