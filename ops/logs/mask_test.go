package logs

import "testing"

func TestMask(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ERROR worker db: query timeout after 5003ms (query_id=48213, table=prices)",
			"ERROR worker db: query timeout after <dur> (query_id=<*>, table=<*>)"},
		{"ERROR api redis: dial tcp 10.0.3.17:6379: connect: connection refused",
			"ERROR api redis: dial tcp <ip>:<num>: connect: connection refused"},
		{"took 2.5s and 1m30s, not 1st or 3dprint", "took <dur> and <dur>, not 1st or 3dprint"},
		{"request 123e4567-e89b-12d3-a456-426614174000 id 9f1c2a7e ptr 0xc000123 sha deadbeef",
			"request <uuid> id <hex> ptr <hex> sha deadbeef"},
		{"free 512MB of 4KiB pages, 95% used, v1 utf8 s3", "free <size> of <size> pages, <num>% used, v1 utf8 s3"},
		{`msg="upstream 10.0.0.1 failed" user="a b" level=ERROR`, "msg= upstream <ip> failed user=<*> level=error"},
		{`KeyError: 'price' in "the table"`, "KeyError: <str> in <str>"},
		{`Get "https://10.96.0.1:443/api/v1/pods?limit=500": dial tcp 10.96.0.1:443: i/o timeout`,
			"Get <str>: dial tcp <ip>:<num>: i/o timeout"},
		{"GET /api/v1/orders/12345?page=2 at 2025-03-14T09:30:00Z", "GET /api/v1/orders/<num>?page=<num> at <ts>"},
		{"version 1.2.3 from 256.1.1.1", "version <num>.<num> from <num>.<num>"},
		{"  spaced\tout  ", "spaced out"},
		{"ids 3519d2d7544d 1h2m3s 1s500ms 3s2h", "ids <hex> <dur> <dur> 3s2h"},
		{`unterminated "quote here`, `unterminated "quote here`},
	} {
		if got := Mask(tc.in); got != tc.want {
			t.Errorf("Mask(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestDetectLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
	}{
		{"2025-03-14T09:30:00Z ERROR api boom", LevelError},
		{"2025-03-14 09:30:00,123 WARNING worker slow", LevelWarn},
		{"[2025-03-14 09:30:00] [error] something", LevelError},
		{"ERROR:root:division failed", LevelError},
		{"INFO retrying after error", LevelNone},
		{"2025-03-14T09:30:00Z INFO api GET /quotes 200", LevelNone},
		{`time=2025-03-14T09:30:00Z level=warn msg="disk almost full"`, LevelWarn},
		{`ts=1 level=info msg="an error here"`, LevelNone},
		{`{"level":"error","msg":"rebalance failed"}`, LevelError},
		{`{"level": "info","msg":"ERROR in text"}`, LevelNone},
		{`{"severity":"WARNING","message":"x"}`, LevelWarn},
		{"E0314 09:30:02.123456       1 reflector.go:147] failed", LevelError},
		{"W0314 09:30:02.123456       1 reflector.go:147] slow", LevelWarn},
		{"I0314 09:30:02.123456       1 reflector.go:147] fine", LevelNone},
		{"ZeroDivisionError: float division by zero", LevelError},
		{"psycopg2.errors.QueryCanceled: canceling statement", LevelNone},
		{"requests.exceptions.ConnectionError: refused", LevelError},
		{"DeprecationWarning: old api", LevelWarn},
		{"KeyboardInterrupt", LevelError},
		{"Traceback (most recent call last):", LevelNone},
		{`  File "/app/x.py", line 3, in f`, LevelNone},
		{"panic: runtime error: index out of range", LevelError},
		{"just some text", LevelNone},
		{"", LevelNone},
	} {
		if got := DetectLevel(tc.in); got != tc.want {
			t.Errorf("DetectLevel(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
