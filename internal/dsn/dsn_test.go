package dsn

import (
	"slices"
	"testing"
)

func TestParseDB(t *testing.T) {
	tests := []struct {
		in   string
		want DB
		bad  bool
	}{
		{in: "sqlite:hello.db", want: DB{Kind: SQLite, Path: "hello.db"}},
		{in: "postgres://u@h/db", want: DB{Kind: Postgres, Conn: "postgres://u@h/db"}},
		{in: "postgresql://u@h/db", want: DB{Kind: Postgres, Conn: "postgresql://u@h/db"}},
		{in: "shards:/etc/s.yaml", want: DB{Kind: Shards, Path: "/etc/s.yaml"}},
		{in: "shards:", want: DB{Kind: Shards}},
		{in: "sqlite:", bad: true},
		{in: "mysql://x", bad: true},
		{in: "hello.db", bad: true},
		{in: "postgres://h:notaport/db", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseDB(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
			t.Errorf("ParseDB(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

// Every form a password can take is found and masked (issue 9: ?password= was logged in clear).
func TestPasswordsAndRedact(t *testing.T) {
	tests := []struct {
		in       string
		pws      []string
		redacted string
	}{
		{"postgres://hello:s3cret@db:5432/hello?sslmode=verify-full", []string{"s3cret"}, "postgres://hello:xxxxx@db:5432/hello?sslmode=verify-full"},
		{"postgres://hello@db/hello?password=s3cret&sslmode=require", []string{"s3cret"}, "postgres://hello@db/hello?password=xxxxx&sslmode=require"},
		{"postgres://hello@db/hello?PASSWORD=s3cret", []string{"s3cret"}, "postgres://hello@db/hello?PASSWORD=xxxxx"},
		{"postgres://hello:${HELLO_S1_PASSWORD}@db/hello", []string{"${HELLO_S1_PASSWORD}"}, "postgres://hello:${HELLO_S1_PASSWORD}@db/hello"},
		{"postgres://hello@db/hello", nil, "postgres://hello@db/hello"},
		{"host=db user=hello password=s3cret dbname=hello", []string{"s3cret"}, "host=db user=hello password='xxxxx' dbname=hello"},
		{"host=db password = 'it\\'s a secret' user=u", []string{"it's a secret"}, "host=db password = 'xxxxx' user=u"},
		{"host=db password=${HELLO_S2_PASSWORD}", []string{"${HELLO_S2_PASSWORD}"}, "host=db password=${HELLO_S2_PASSWORD}"},
		{"host=db", nil, "host=db"},
	}
	for _, tt := range tests {
		pws, err := Passwords(tt.in)
		if err != nil || !slices.Equal(pws, tt.pws) {
			t.Errorf("Passwords(%q) = %q, %v; want %q", tt.in, pws, err, tt.pws)
		}
		if got := Redact(tt.in); got != tt.redacted {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.redacted)
		}
	}
	for _, bad := range []string{"host=db password='unterminated", "postgres://u:p@h:bad/db", "host"} {
		if _, err := Passwords(bad); err == nil {
			t.Errorf("Passwords(%q): an unreadable string was vouched for", bad)
		}
		if got := Redact(bad); got != mask {
			t.Errorf("Redact(%q) = %q, want it masked whole", bad, got)
		}
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"postgres://u:pw@h/db?password=pw2", "host=h password='a b' x=y", "password=\\ secret", "postgres://u:${X}@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, conn string) {
		if _, err := Passwords(conn); err != nil {
			return
		}
		red := Redact(conn)
		pws, err := Passwords(red)
		if err != nil {
			t.Fatalf("Redact(%q) = %q, which no longer parses: %v", conn, red, err)
		}
		for _, pw := range pws {
			if pw != mask && !IsVarRef(pw) {
				t.Fatalf("Redact(%q) = %q still holds password %q", conn, red, pw)
			}
		}
	})
}
