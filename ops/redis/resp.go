package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// rawConn is a bare RESP2 connection for the keyspace analysis's hot loop:
// thousands of TYPE / MEMORY USAGE / PTTL commands a round trip, written
// and read without a command object each, which halves the CPU this side
// spends per key. It is dialled with the client's own dialer (TLS and
// timeouts included) and authenticated like the client.
type rawConn struct {
	c       net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	num     []byte
}

// replyError is an error reply of the server; it is a goredis.Error, so
// Classify and wrapErr read it like the client's own.
type replyError string

func (e replyError) Error() string { return string(e) }

// RedisError marks it as a reply of the server (goredis.Error).
func (e replyError) RedisError() {}

var _ goredis.Error = replyError("")

// dialRaw opens a raw connection to the client's server, authenticates and
// selects db.
func dialRaw(ctx context.Context, client *goredis.Client, db int) (*rawConn, error) {
	o := client.Options()
	dial := o.Dialer
	if dial == nil {
		dial = goredis.NewDialer(o)
	}
	dctx, cancel := context.WithTimeout(ctx, max(o.DialTimeout, time.Second))
	defer cancel()
	nc, err := dial(dctx, o.Network, o.Addr)
	if err != nil {
		return nil, err
	}
	c := &rawConn{c: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 64<<10), timeout: max(o.ReadTimeout, 5*time.Second), num: make([]byte, 0, 24)}
	user, pass := o.Username, o.Password
	if o.CredentialsProvider != nil {
		user, pass = o.CredentialsProvider()
	}
	var setup [][]string
	switch {
	case pass != "" && user != "":
		setup = append(setup, []string{"AUTH", user, pass})
	case pass != "":
		setup = append(setup, []string{"AUTH", pass})
	}
	setup = append(setup, []string{"SELECT", strconv.Itoa(db)})
	for _, args := range setup {
		c.write(args...)
	}
	err = c.roundTrip(ctx, func() error {
		for range setup {
			if _, _, err := c.read(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *rawConn) Close() error { return c.c.Close() }

// write queues one command.
func (c *rawConn) write(args ...string) {
	c.w.WriteByte('*')
	c.w.Write(strconv.AppendInt(c.num[:0], int64(len(args)), 10))
	c.w.WriteString("\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.w.Write(strconv.AppendInt(c.num[:0], int64(len(a)), 10))
		c.w.WriteString("\r\n")
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
}

// roundTrip sends what was written and runs read for the replies, within
// the connection's timeout and ctx: a cancelled ctx interrupts the read.
func (c *rawConn) roundTrip(ctx context.Context, read func() error) error {
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.c.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Now()) })
	defer stop()
	err := c.w.Flush()
	if err == nil {
		err = read()
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// read reads one scalar reply: kind is '+', ':', '$' (str set, or nil
// when n is -1) and an error reply is returned as a replyError.
func (c *rawConn) read() (kind byte, str string, err error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, "", err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, "", fmt.Errorf("redis: bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		return line[0], string(body), nil
	case '-':
		return '-', "", replyError(string(body))
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return 0, "", fmt.Errorf("redis: bad bulk length %q", body)
		}
		if n < 0 {
			return '$', "", errNilReply
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return 0, "", err
		}
		return '$', string(buf[:n]), nil
	}
	return 0, "", fmt.Errorf("redis: unexpected reply type %q", line[0])
}

// errNilReply is a nil bulk reply (MEMORY USAGE of a key that vanished).
var errNilReply = errors.New("nil reply")

// readInt reads an integer reply.
func (c *rawConn) readInt() (int64, error) {
	kind, s, err := c.read()
	if err != nil {
		return 0, err
	}
	if kind != ':' {
		return 0, fmt.Errorf("redis: want an integer reply, got %q", s)
	}
	return strconv.ParseInt(s, 10, 64)
}
