package restore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opsdeck/opsdeck/ops/runner"
)

// A table's indexes and its primary-key and unique constraints are built
// as soon as its rows are in, while the other tables are still copied
// (pg_restore --jobs does the same with a dump); what spans tables or
// hangs on a partitioned parent — foreign keys, triggers, index
// attachments, anything the archive's list does not tie to one table —
// is restored at the end, in parallel.

// postData is the schema archive's post-data entries split by table.
type postData struct {
	// early are the list lines of each table's own indexes and
	// constraints, by the table's index in pitSource.tables.
	early map[int][]string
	// rest are the other lines: restored once every table is copied.
	rest []string
	// dir is where the lists are written (the instance's directory).
	dir string
}

// planPostData reads the archive's table of contents (pg_restore -l) and
// ties each INDEX and CONSTRAINT entry to its table when the instance's
// catalog says which one it is and the table stands alone (no partition,
// no partitioned parent).
func (s *pitSource) planPostData(ctx context.Context, d *dbRestore) (*postData, error) {
	out, err := runner.Output(ctx, d.en.eng.runner(), runner.Cmd{Path: filepath.Join(s.rec.BinDir, "pg_restore"), Args: []string{"--list", s.schema}})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filepath.Base(s.schema), err)
	}
	owners, err := s.indexOwners(ctx)
	if err != nil {
		return nil, err
	}
	byRaw := map[string]int{}
	for i, t := range s.tables {
		if t.standalone {
			byRaw[t.raw] = i
		}
	}
	pd := &postData{early: map[int][]string{}, dir: s.rec.Dir}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ";") || strings.TrimSpace(line) == "" {
			continue
		}
		if i, ok := tableOfEntry(line, owners, byRaw); ok {
			pd.early[i] = append(pd.early[i], line)
			continue
		}
		pd.rest = append(pd.rest, line)
	}
	return pd, sc.Err()
}

// tableOfEntry ties a list line ("3401; 1259 16430 INDEX public idx
// owner" or "3400; 2606 16412 CONSTRAINT public tbl tbl_pkey owner") to
// its table.
func tableOfEntry(line string, owners map[string]string, byRaw map[string]int) (int, bool) {
	_, rest, ok := strings.Cut(line, "; ")
	if !ok {
		return 0, false
	}
	f := strings.Fields(rest)
	// f: tableoid oid TYPE... namespace tag... owner
	if len(f) < 6 {
		return 0, false
	}
	switch f[2] {
	case "INDEX":
		if len(f) != 6 {
			return 0, false // an index named with spaces: left to the end
		}
		table, ok := owners[f[3]+"."+f[4]]
		if !ok {
			return 0, false
		}
		i, ok := byRaw[table]
		return i, ok
	case "CONSTRAINT":
		if len(f) != 7 {
			return 0, false
		}
		i, ok := byRaw[f[3]+"."+f[4]]
		return i, ok
	}
	return 0, false
}

// indexOwners maps each index that belongs to one table alone ("schema.
// index", raw names) to its table's raw name: not an index of a
// partition or a partitioned table.
func (s *pitSource) indexOwners(ctx context.Context) (map[string]string, error) {
	conn, err := s.rec.Connect(ctx, s.database)
	if err != nil {
		return nil, fmt.Errorf("connect to the recovered instance: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `
		SELECT n.nspname || '.' || ic.relname, tn.nspname || '.' || tc.relname
		FROM pg_index x
		JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
		JOIN pg_class tc ON tc.oid = x.indrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
		WHERE tc.relkind = 'r' AND NOT tc.relispartition
		  AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = x.indexrelid)`)
	if err != nil {
		return nil, fmt.Errorf("list the recovered indexes: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var idx, table string
		if err := rows.Scan(&idx, &table); err != nil {
			return nil, err
		}
		out[idx] = table
	}
	return out, rows.Err()
}

// writeList writes a pg_restore --use-list file of lines.
func (pd *postData) writeList(name string, lines []string) (string, error) {
	p := filepath.Join(pd.dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return p, nil
}

// restoreEarly builds table i's indexes and constraints.
func (s *pitSource) restoreEarly(ctx context.Context, d *dbRestore, pd *postData, i int) error {
	lines := pd.early[i]
	if len(lines) == 0 {
		return nil
	}
	list, err := pd.writeList(fmt.Sprintf("post-data-%d.list", i), lines)
	if err != nil {
		return err
	}
	return s.pgRestore(ctx, d, "post-data", 1, "--use-list="+list)
}

// restoreRest restores the post-data entries no table took, jobs at once.
func (s *pitSource) restoreRest(ctx context.Context, d *dbRestore, pd *postData, jobs int) error {
	if len(pd.rest) == 0 {
		return nil
	}
	list, err := pd.writeList("post-data-rest.list", pd.rest)
	if err != nil {
		return err
	}
	return s.pgRestore(ctx, d, "post-data", jobs, "--use-list="+list)
}
