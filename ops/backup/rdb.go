package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opsdeck/opsdeck/ops/logging"
)

// RDBOptions tune SnapshotRDB.
type RDBOptions struct {
	// DialTimeout bounds connecting and authenticating (default 5s).
	DialTimeout time.Duration
	// IdleTimeout fails the transfer when the server sends nothing for
	// this long (default 2m: a large BGSAVE may take a while to start).
	IdleTimeout time.Duration
	// Tick, when set, is told the bytes received so far and the expected
	// total (0 when the server streams without announcing a size).
	Tick func(done, total int64)
}

// SnapshotRDB takes a point-in-time snapshot of the Redis at url over the
// replication protocol, as `redis-cli --rdb` does: it authenticates (ACL
// user and password from the URL; rediss:// for TLS), asks for an RDB-only
// transfer (REPLCONF rdb-only 1, ignored by servers before 7.0) and sends
// SYNC; the server forks, writes the RDB and streams it. The bytes are
// written to w and parsed on the way: the result is returned only when the
// RDB parsed to its end and its CRC-64 trailer matched.
//
// The transfer is one record of the debug trace (class redis, "redis
// sync"): the server's address, the RDB's bytes, the duration, the outcome.
func SnapshotRDB(ctx context.Context, url string, w io.Writer, opts RDBOptions) (RDBSummary, error) {
	if !logging.Enabled(ctx) {
		return snapshotRDB(ctx, url, w, opts)
	}
	start := time.Now()
	s, err := snapshotRDB(ctx, url, w, opts)
	addr := "?"
	if ro, perr := goredis.ParseURL(url); perr == nil {
		addr = ro.Addr
	}
	logging.Call(ctx, logging.ClassRedis, "redis sync", start, err, logging.KeyTarget, addr, logging.KeyCommand, "sync", logging.KeyBytes, s.Size)
	return s, err
}

// snapshotRDB is SnapshotRDB.
func snapshotRDB(ctx context.Context, url string, w io.Writer, opts RDBOptions) (RDBSummary, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	ro, err := goredis.ParseURL(url)
	if err != nil {
		return RDBSummary{}, errors.New("redis.url does not parse — use redis://[user:password@]host:6379/0")
	}
	conn, err := dialRedis(ctx, ro, opts.DialTimeout)
	if err != nil {
		return RDBSummary{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	br := bufio.NewReaderSize(conn, 256<<10)
	deadline := func(d time.Duration) { _ = conn.SetDeadline(time.Now().Add(d)) }
	deadline(opts.DialTimeout)
	if ro.Password != "" {
		args := []string{"AUTH", ro.Password}
		if ro.Username != "" {
			args = []string{"AUTH", ro.Username, ro.Password}
		}
		if err := command(conn, br, args...); err != nil {
			return RDBSummary{}, fmt.Errorf("redis AUTH: %w — check the user and password in redis.url", err)
		}
	}
	// Servers before 7.0 answer -ERR: they send a full RDB anyway.
	_ = command(conn, br, "REPLCONF", "rdb-only", "1")
	if _, err := conn.Write([]byte("SYNC\r\n")); err != nil {
		return RDBSummary{}, fmt.Errorf("redis SYNC: %w", ctxErr(ctx, err))
	}

	// The server may send newlines while it prepares the RDB.
	var header string
	for {
		deadline(opts.IdleTimeout)
		line, err := br.ReadString('\n')
		if err != nil {
			return RDBSummary{}, fmt.Errorf("redis SYNC: waiting for the snapshot: %w", ctxErr(ctx, err))
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		header = line
		break
	}
	if strings.HasPrefix(header, "-") {
		msg := strings.TrimPrefix(header, "-")
		if strings.Contains(msg, "NOPERM") || strings.Contains(msg, "NOAUTH") {
			return RDBSummary{}, fmt.Errorf("redis refused SYNC: %s — the ACL user needs +sync (and +replconf), or take the snapshot with redis-cli --rdb as an admin", msg)
		}
		return RDBSummary{}, fmt.Errorf("redis refused SYNC: %s", msg)
	}
	if !strings.HasPrefix(header, "$") {
		return RDBSummary{}, fmt.Errorf("redis SYNC: unexpected reply %.40q", header)
	}

	pr, pw := io.Pipe()
	type parsed struct {
		s   RDBSummary
		err error
	}
	done := make(chan parsed, 1)
	go func() {
		d, s, err := DigestRDB(pr, nil)
		if err == nil {
			s.Digest = &d
		}
		_, _ = io.Copy(io.Discard, pr)
		done <- parsed{s, err}
	}()
	var src io.Reader
	var total int64
	mark := ""
	if m, ok := strings.CutPrefix(header, "$EOF:"); ok {
		if len(m) != 40 {
			pw.Close()
			<-done
			return RDBSummary{}, fmt.Errorf("redis SYNC: bad EOF mark of %d bytes", len(m))
		}
		mark = m
		src = &markReader{r: br, mark: []byte(m)}
	} else {
		total, err = strconv.ParseInt(header[1:], 10, 64)
		if err != nil || total < 0 {
			pw.Close()
			<-done
			return RDBSummary{}, fmt.Errorf("redis SYNC: bad length %.40q", header)
		}
		src = io.LimitReader(br, total)
	}
	var got int64
	buf := make([]byte, 256<<10)
	var copyErr error
	for {
		deadline(opts.IdleTimeout)
		n, rerr := src.Read(buf)
		if n > 0 {
			got += int64(n)
			if _, werr := w.Write(buf[:n]); werr != nil {
				copyErr = fmt.Errorf("store the snapshot: %w", werr)
				break
			}
			if _, werr := pw.Write(buf[:n]); werr != nil {
				copyErr = fmt.Errorf("snapshot does not parse: %w", werr)
				break
			}
			if opts.Tick != nil {
				opts.Tick(got, total)
			}
		}
		if rerr == io.EOF {
			if mark == "" && got < total {
				copyErr = fmt.Errorf("redis SYNC: connection closed after %d of %d bytes", got, total)
			}
			break
		}
		if rerr != nil {
			copyErr = fmt.Errorf("redis SYNC: transfer broke after %d bytes: %w", got, ctxErr(ctx, rerr))
			break
		}
	}
	pw.CloseWithError(copyErr)
	res := <-done
	if copyErr != nil {
		return res.s, copyErr
	}
	if res.err != nil {
		return res.s, res.err
	}
	return res.s, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func dialRedis(ctx context.Context, ro *goredis.Options, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if ro.TLSConfig != nil {
		td := &tls.Dialer{NetDialer: d, Config: ro.TLSConfig}
		conn, err = td.DialContext(dctx, "tcp", ro.Addr)
	} else {
		conn, err = d.DialContext(dctx, "tcp", ro.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to redis at %s: %w — check redis.url and that the server is up", ro.Addr, ctxErr(ctx, err))
	}
	return conn, nil
}

// command sends a RESP command and reads a simple reply.
func command(conn net.Conn, br *bufio.Reader, args ...string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		return err
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return errors.New(strings.TrimPrefix(line, "-"))
	}
	return nil
}

// markReader reads until the 40-byte EOF mark of a diskless transfer and
// hides the mark.
type markReader struct {
	r    *bufio.Reader
	mark []byte
	hold []byte // bytes read but not returned; the last 40 may be the mark
}

func (m *markReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if bytes.HasSuffix(m.hold, m.mark) {
			out := m.hold[:len(m.hold)-len(m.mark)]
			if len(out) == 0 {
				return 0, io.EOF
			}
			c := copy(p, out)
			m.hold = m.hold[c:]
			return c, nil
		}
		if len(m.hold) > len(m.mark) {
			c := copy(p, m.hold[:len(m.hold)-len(m.mark)])
			m.hold = m.hold[c:]
			return c, nil
		}
		buf := make([]byte, 64<<10)
		n, err := m.r.Read(buf)
		m.hold = append(m.hold, buf[:n]...)
		if n == 0 && err != nil {
			return 0, fmt.Errorf("transfer ended before its EOF mark: %w", noEOF(err))
		}
	}
}
