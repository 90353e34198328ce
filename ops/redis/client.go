package redis

import (
	"errors"
	"net/url"
	"regexp"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ClientName is what opsdeck's connections show in CLIENT LIST.
const ClientName = "opsdeck"

// DefaultDialTimeout applies when NewClient is given no timeout.
const DefaultDialTimeout = 3 * time.Second

// NewClient builds a client for url: redis://[user:password@]host:port/db,
// or rediss:// for TLS (ACL user and password, database number and the
// query options of go-redis are honoured). dialTimeout bounds connecting
// and, unless the URL sets its own, each read and write. Commands are not
// retried and dials are tried once, so an unreachable server fails within
// about dialTimeout; context deadlines are honoured. No connection is made
// until the first command. Parse failures are *Error values of KindConfig
// that do not contain the URL. Every dial, command and pipeline is a record
// of the debug trace (the command's name only).
func NewClient(url string, dialTimeout time.Duration) (*goredis.Client, error) {
	if dialTimeout <= 0 {
		dialTimeout = DefaultDialTimeout
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, &Error{Kind: KindConfig, msg: message(KindConfig, parseDetail(err), target{})}
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = dialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = dialTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = dialTimeout
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = -1 // no retries: report a failure at once
	}
	opts.DialerRetries = 1
	opts.ContextTimeoutEnabled = true
	opts.PoolSize = 4
	opts.MinIdleConns = 0
	if opts.ClientName == "" {
		opts.ClientName = ClientName
	}
	c := goredis.NewClient(opts)
	c.AddHook(tracer{target: opts.Addr})
	return c, nil
}

// userinfo matches the "user:password@" part of a URL.
var userinfo = regexp.MustCompile(`//[^/@]*@`)

// parseDetail describes a URL parse error without the URL.
func parseDetail(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // the url.Error itself quotes the whole URL
	}
	return userinfo.ReplaceAllString(err.Error(), "//xxxxx@")
}
