package captcha

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/b64url"
)

// spendRecorder fails the test if an id that is not a live challenge's reaches the store.
type spendRecorder struct{ keys []string }

func (s *spendRecorder) Spend(_ context.Context, key string, _ time.Duration) (bool, error) {
	s.keys = append(s.keys, key)
	return true, nil
}

// FuzzVerify: no id panics; only a canonical, sealed, live id reaches the spent-id store, and
// then under a key of fixed size.
func FuzzVerify(f *testing.F) {
	rec := &spendRecorder{}
	svc, err := New(Options{Secret: []byte("fuzz-secret-fuzz-secret-fuzz-secret"), Spent: rec})
	if err != nil {
		f.Fatal(err)
	}
	ch, err := svc.Issue()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ch.ID, "123456")
	f.Add(ch.ID+"\n", "123456")
	f.Add(ch.ID[:10]+"\r\n"+ch.ID[10:], " 12-34 56 ")
	f.Add(strings.Repeat("A", IDLen), "")
	f.Fuzz(func(t *testing.T, id, answer string) {
		rec.keys = rec.keys[:0]
		_ = svc.Verify(context.Background(), account.CaptchaAnswer{ID: id, Answer: answer}, netip.Addr{})
		for _, k := range rec.keys {
			if _, canonical := b64url.Decode(id, idLen, 0); !canonical {
				t.Fatalf("non-canonical id %q reached the store as %q", id, k)
			}
			if len(k) != len("captcha:")+16 {
				t.Fatalf("spent key %q is not of the fixed size", k)
			}
		}
	})
}
