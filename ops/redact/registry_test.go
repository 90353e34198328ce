package redact

import "testing"

func TestRegisterMasksEverywhere(t *testing.T) {
	const secret = "from-a-kubernetes-secret-7f3a"
	if got := String("password is " + secret); got != "password is "+secret {
		t.Fatalf("masked before Register: %q", got)
	}
	Register(secret, "")
	Register(secret) // twice is once
	if got := String("auth " + secret + " failed"); got != "auth "+Mask+" failed" {
		t.Errorf("String = %q, want the registered secret masked", got)
	}
	if n := len(Registered()); n != 1 {
		t.Errorf("Registered holds %d secrets, want 1", n)
	}
}
