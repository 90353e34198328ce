package access

import (
	"reflect"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/opsdeck/opsdeck/internal/fuzzcheck"
)

// Public keys of each kind, for the seeds (made with ssh-keygen; the
// certificate signs the ed25519 key).
const (
	fuzzEd25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICJmc0OPLWXcpDU1ocos57/Jaf0OpUcUU6HKqoTE2PPG user@host"
	fuzzRSA     = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDUvTg5Dvg/PbJfEAuZMGamVTePVQl2uH4XaNHxwtbj2enCH4kkdeusbnLZXXmQR066y/l2p4p6Zf+YK4xF6IuVxuh99Jhtdpo2EXBScRcdJv3Dcb2e5etQZF6k4jpwwrrMlxhTWr8OdFBMBW5uVjO2MhAAH4n7jU3UvNo3hq25ow== user@host"
	fuzzECDSA   = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJwr8pH8Pl+/Z2jqSq7iF5zQia5Bzt7BM4L7fIoRC9M3z5gWExRppPzwcBAq6qj+gINjf/3nRImbhJsMqX50nKw= user@host"
	fuzzCert    = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIJTyJSfGwv2qFbHWgtHehGWxyOifmuA6IBtAaflUTJxNAAAAICJmc0OPLWXcpDU1ocos57/Jaf0OpUcUU6HKqoTE2PPGAAAAAAAAAAAAAAABAAAABWFsaWNlAAAACQAAAAVhbGljZQAAAABrFnesAAAAAGz2WfwAAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACCXrUhMOydWLT8qSmWzl9FAvtVEIBIK3nl68Kxda5RtLAAAAFMAAAALc3NoLWVkMjU1MTkAAABAQDvgwaDWyScLA36B3puCG/8V0r4mqQAZm+ehA7CxZrKsM3hh5cWpThhSGeFWCiauAtz/C2P4X08C48kvA2JUCw== user@host"
)

// FuzzParseKeys: no authorized-keys file panics, hangs or allocates more
// than fuzzcheck allows, and every key it accepts is found again with the
// role and line it was given. Its seeds and testdata/fuzz run with the
// other tests; scripts/fuzz.sh fuzzes it.
func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{
		"role=admin " + fuzzEd25519 + "\n",
		"# team\n\nrole=viewer,no-port-forwarding " + fuzzRSA + "\n" + `role="operator" ` + fuzzECDSA + " oncall\n",
		"role=admin " + fuzzCert,
		`command="echo hi",ROLE=Viewer,from="10.0.0.0/8" ` + fuzzEd25519,
		fuzzEd25519,
		"role=root " + fuzzEd25519,
		"role=admin " + fuzzEd25519 + "\nrole=viewer " + fuzzEd25519,
		"role=admin ssh-ed25519 AAAA",
		"role=admin " + fuzzRSA[:len(fuzzRSA)/2],
		"role=admin@staging,operator@prod " + fuzzEd25519,
		`role="viewer,admin@staging",no-pty ` + fuzzEd25519,
		"role=admin@staging,admin@staging " + fuzzEd25519,
		"role=admin@,viewer " + fuzzEd25519,
		"role=admin@Prod " + fuzzEd25519,
		"role=viewer,role=admin " + fuzzEd25519,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var kr *KeyRing
		var err error
		fuzzcheck.Run(t, len(data), func() { kr, err = ParseKeys("keys", data) })
		if err != nil {
			return
		}
		if kr.Len() == 0 {
			t.Fatal("a key ring without keys")
		}
		for id, k := range kr.keys {
			pub, err := gossh.ParsePublicKey([]byte(id))
			if err != nil {
				t.Fatalf("key %+v: %v", k, err)
			}
			got, ok := kr.Lookup(pub)
			if !ok || !reflect.DeepEqual(got, k) || len(k.Roles) == 0 || k.Line < 1 || k.Fingerprint != gossh.FingerprintSHA256(pub) {
				t.Fatalf("key %+v: found %+v %v", k, got, ok)
			}
			for env, r := range k.Roles {
				if _, err := ParseRole(r.String()); err != nil || (env != AllEnvs && !envName.MatchString(env)) {
					t.Fatalf("key %+v: role %v in %q", k, r, env)
				}
			}
		}
	})
}
