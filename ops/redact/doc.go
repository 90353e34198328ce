// Package redact removes secrets from connection strings, URLs, parameter
// maps and free text before they reach a screen, a log or the audit log.
//
// Redaction is conservative: when in doubt a value is masked. Passwords in
// DSNs and URLs are replaced by [Mask] so the rest of the connection string
// stays readable; whole values of sensitive parameters are replaced by
// [Placeholder].
package redact

// Mask replaces a password inside a DSN or URL, as net/url's URL.Redacted does.
const Mask = "xxxxx"

// Placeholder replaces a whole secret value, such as an S3 secret key or a
// token passed as a parameter.
const Placeholder = "REDACTED"
