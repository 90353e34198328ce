package backup

import (
	"context"
	"encoding/json"
	"github.com/opsdeck/opsdeck/ops/access/accesstest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestMetricsAndWebhook: a good run and a failed one each write the
// textfile metrics (the failure keeps the other component's success) and
// post a Slack-compatible message; a dead webhook does not fail a backup.
func TestMetricsAndWebhook(t *testing.T) {
	needSandbox(t)
	ctx := accesstest.Admin(context.Background())
	var mu sync.Mutex
	var texts []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		mu.Lock()
		texts = append(texts, m["text"])
		mu.Unlock()
	}))
	defer hook.Close()
	cfg := testConfig(t)
	cfg.Backup.MetricsDir = t.TempDir()
	cfg.Backup.WebhookURL = hook.URL + "/services/T0/B0/secret-token"
	e := newEngine(t, cfg)
	if _, err := e.Backup(ctx, Options{Kind: Redis}); err != nil {
		t.Fatal(err)
	}
	bad := *cfg
	bad.Redis.URL = "redis://:pw@127.0.0.1:1/0"
	e2 := newEngine(t, &bad)
	if _, err := e2.Backup(ctx, Options{Kind: "full", Components: []string{Redis}}); err == nil {
		t.Fatal("a backup of an unreachable Redis succeeded")
	}
	prom, err := os.ReadFile(filepath.Join(cfg.Backup.MetricsDir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`opsdeck_backup_last_run_success{component="redis"} 0`,
		`opsdeck_backup_last_success_timestamp_seconds{component="redis"}`,
		`opsdeck_backup_last_size_bytes{component="redis"}`,
	} {
		if !strings.Contains(string(prom), w) {
			t.Errorf("metrics lack %q:\n%s", w, prom)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(texts) != 2 || !strings.Contains(texts[0], "redis") || !strings.Contains(texts[1], "FAILED") {
		t.Fatalf("webhook messages %q", texts)
	}
	// A webhook that is down is logged, not a failed backup.
	hook.Close()
	if _, err := e.Backup(ctx, Options{Kind: Redis}); err != nil {
		t.Fatalf("dead webhook failed the backup: %v", err)
	}
}
