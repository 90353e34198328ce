package postgres

import "testing"

func TestFirstLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"\n  SELECT a,\n b FROM t", "SELECT a,"},
		{"ALTER ROLE app PASSWORD 'hunter2'", "ALTER ROLE app PASSWORD '…'"},
		{"SELECT 'it''s', $1", "SELECT '…''…', $1"},
		{"SELECT " + string(make([]byte, 100)), "SELECT " + string(make([]byte, 73)) + "…"},
	}
	for _, tt := range tests {
		if got := firstLine(tt.in); got != tt.want {
			t.Errorf("firstLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
