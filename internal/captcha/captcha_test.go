package captcha_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard/memory"
)

func TestChallenges(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	spent := memory.New(memory.Options{Now: clock})
	c, err := captcha.New(captcha.Options{Secret: []byte("0123456789abcdef0123456789abcdef"), TTL: 10 * time.Minute, Spent: spent, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	other, err := captcha.New(captcha.Options{Secret: []byte("another secret, another replica set"), Spent: spent, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	issue := func() (captcha.Challenge, string) {
		ch, err := c.Issue()
		if err != nil {
			t.Fatal(err)
		}
		ans, err := c.Answer(ch.ID)
		if err != nil || len(ans) != captcha.Digits {
			t.Fatalf("Answer = %q, %v", ans, err)
		}
		return ch, ans
	}
	verify := func(id, answer string) error {
		return c.Verify(ctx, account.CaptchaAnswer{ID: id, Answer: answer}, netip.Addr{})
	}

	ch, ans := issue()
	if ch.ImageURL != "/captcha/"+ch.ID+".png" || ch.AudioURL != "/captcha/"+ch.ID+".wav" || !ch.ExpiresAt.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("challenge = %+v", ch)
	}
	if err := verify(ch.ID, " "+ans[:3]+"-"+ans[3:]+" "); err != nil {
		t.Fatalf("right answer typed with spaces and a dash: %v", err)
	}
	if err := verify(ch.ID, ans); !errors.Is(err, captcha.ErrInvalid) {
		t.Fatalf("the same challenge twice = %v, want ErrInvalid", err)
	}

	ch, ans = issue()
	wrong := []byte(ans)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	if err := verify(ch.ID, string(wrong)); !errors.Is(err, captcha.ErrInvalid) {
		t.Fatalf("wrong answer = %v", err)
	}
	if err := verify(ch.ID, ans); !errors.Is(err, captcha.ErrInvalid) {
		t.Fatalf("right answer after a wrong one = %v, want ErrInvalid (spent)", err)
	}

	ch, ans = issue()
	if _, err := other.Answer(ch.ID); err == nil {
		t.Fatal("a challenge opened under another secret")
	}
	tampered := []byte(ch.ID)
	tampered[len(tampered)/2] ^= 4
	for _, id := range []string{string(tampered), "", "short", strings.Repeat("A", 80)} {
		if err := verify(id, ans); !errors.Is(err, captcha.ErrInvalid) {
			t.Errorf("forged id %q = %v, want ErrInvalid", id, err)
		}
	}
	now = now.Add(10 * time.Minute)
	if err := verify(ch.ID, ans); !errors.Is(err, captcha.ErrInvalid) {
		t.Fatalf("expired challenge = %v, want ErrInvalid", err)
	}

	ch, _ = issue()
	var png, wav bytes.Buffer
	if err := c.WriteImage(&png, ch.ID); err != nil || !bytes.HasPrefix(png.Bytes(), []byte("\x89PNG")) {
		t.Fatalf("WriteImage: %v", err)
	}
	if err := c.WriteAudio(&wav, ch.ID); err != nil || !bytes.HasPrefix(wav.Bytes(), []byte("RIFF")) {
		t.Fatalf("WriteAudio: %v", err)
	}
}
