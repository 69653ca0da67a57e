package captcha_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard/memory"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func newService(t testing.TB, secret string) *captcha.Service {
	t.Helper()
	s, err := captcha.New(captcha.Options{Secret: []byte(secret), Spent: memory.New(memory.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// render returns the PNG and the WAV of challenge id.
func render(t testing.TB, s *captcha.Service, id string) (img, snd []byte) {
	t.Helper()
	var i, a bytes.Buffer
	if err := s.WriteImage(&i, id); err != nil {
		t.Fatalf("WriteImage: %v", err)
	}
	if err := s.WriteAudio(&a, id); err != nil {
		t.Fatalf("WriteAudio: %v", err)
	}
	return i.Bytes(), a.Bytes()
}

func digest(img, snd []byte) string {
	a, b := sha256.Sum256(img), sha256.Sum256(snd)
	return hex.EncodeToString(a[:]) + " " + hex.EncodeToString(b[:])
}

// A replica is another process with the same HELLO_SECRET. The old renderer seeded its drawing
// with a key drawn at process start, so each replica drew one id differently and a client could
// collect several drawings of one answer by reloading.
func TestEveryReplicaDrawsAnIDIdentically(t *testing.T) {
	s := newService(t, testSecret)
	ch, err := s.Issue()
	if err != nil {
		t.Fatal(err)
	}
	img, snd := render(t, s, ch.ID)
	want := digest(img, snd)

	img2, snd2 := render(t, newService(t, testSecret), ch.ID)
	if got := digest(img2, snd2); got != want {
		t.Errorf("another Service with the same secret drew %s, want %s", got, want)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaProcess$")
	cmd.Env = append(os.Environ(), "CAPTCHA_REPLICA_ID="+ch.ID)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("replica process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "drew "+want) {
		t.Errorf("another process with the same secret drew otherwise:\n%s\nwant %s", out, want)
	}
}

// TestReplicaProcess is the other replica of TestEveryReplicaDrawsAnIDIdentically: it draws the
// id it is given and prints the drawing's digests.
func TestReplicaProcess(t *testing.T) {
	id := os.Getenv("CAPTCHA_REPLICA_ID")
	if id == "" {
		return // only run as a replica
	}
	img, snd := render(t, newService(t, testSecret), id)
	fmt.Println("drew " + digest(img, snd))
}

func TestEachChallengeIsDrawnAnew(t *testing.T) {
	s := newService(t, testSecret)
	seen := map[string]bool{}
	for range 6 {
		ch, err := s.Issue()
		if err != nil {
			t.Fatal(err)
		}
		img, snd := render(t, s, ch.ID)
		a, b := sha256.Sum256(img), sha256.Sum256(snd)
		for _, d := range []string{"png " + hex.EncodeToString(a[:]), "wav " + hex.EncodeToString(b[:])} {
			if seen[d] {
				t.Fatalf("two ids drew the same %s", d)
			}
			seen[d] = true
		}
	}
}

func TestImageIsAPNGOfTheAdvertisedSize(t *testing.T) {
	s := newService(t, testSecret)
	ch, _ := s.Issue()
	img, _ := render(t, s, ch.ID)
	m, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := m.Bounds(); b.Dx() != captcha.ImageWidth || b.Dy() != captcha.ImageHeight {
		t.Fatalf("image is %v, want %dx%d", b, captcha.ImageWidth, captcha.ImageHeight)
	}
}

func TestAudioIsAShortPCMWAV(t *testing.T) {
	s := newService(t, testSecret)
	for range 6 {
		ch, _ := s.Issue()
		_, snd := render(t, s, ch.ID)
		le := binary.LittleEndian
		if len(snd) < 44 || string(snd[:4]) != "RIFF" || string(snd[8:16]) != "WAVEfmt " || string(snd[36:40]) != "data" {
			t.Fatalf("not a canonical WAV header: %q", snd[:min(len(snd), 44)])
		}
		format, channels, rate, bits := le.Uint16(snd[20:]), le.Uint16(snd[22:]), le.Uint32(snd[24:]), le.Uint16(snd[34:])
		if format != 1 || channels != 1 || rate != 8000 || bits != 16 {
			t.Fatalf("format %d, %d channels, %d Hz, %d bits; want PCM mono 8000 Hz 16-bit", format, channels, rate, bits)
		}
		data := le.Uint32(snd[40:])
		if int(data) != len(snd)-44 || int(le.Uint32(snd[4:])) != len(snd)-8 {
			t.Fatalf("chunk sizes %d/%d do not match a %d-byte file", le.Uint32(snd[4:]), data, len(snd))
		}
		if seconds := float64(data) / 2 / 8000; seconds < 3 || seconds > 8.5 {
			t.Fatalf("audio lasts %.2f s, want 3–8.5 s", seconds)
		}
	}
}

func TestExpiredOrForgedIDsDrawNothing(t *testing.T) {
	s := newService(t, testSecret)
	ch, _ := s.Issue()
	other := byte('A')
	if ch.ID[10] == other {
		other = 'B'
	}
	tampered := ch.ID[:10] + string(other) + ch.ID[11:]
	for _, id := range []string{"", "short", tampered, strings.Repeat("A", len(ch.ID))} {
		var b bytes.Buffer
		if s.WriteImage(&b, id) == nil || s.WriteAudio(&b, id) == nil || b.Len() != 0 {
			t.Errorf("id %q drew something", id)
		}
		if _, _, err := s.AudioLayers(id); err == nil {
			t.Errorf("id %q has audio layers", id)
		}
	}
}

func BenchmarkWriteImage(b *testing.B) {
	s := newService(b, testSecret)
	ch, _ := s.Issue()
	for b.Loop() {
		if err := s.WriteImage(&bytes.Buffer{}, ch.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteAudio(b *testing.B) {
	s := newService(b, testSecret)
	ch, _ := s.Issue()
	for b.Loop() {
		if err := s.WriteAudio(&bytes.Buffer{}, ch.ID); err != nil {
			b.Fatal(err)
		}
	}
}
