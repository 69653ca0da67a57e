package captcha

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bestMatch is the largest normalised cross-correlation of recording, played at any speed from
// 0.8 to 1.25, with x at any lag that keeps it within 50 ms of x: the score of the matched
// filter that solved the old audio half of the time.
func bestMatch(x, recording []float64) float64 {
	const margin = 400
	padded := make([]float64, margin+len(x)+margin)
	copy(padded[margin:], x)
	cum := make([]float64, len(padded)+1) // running energy of x
	for i, v := range padded {
		cum[i+1] = cum[i] + v*v
	}
	best := 0.0
	for speed := 0.8; speed <= 1.25; speed += 0.05 {
		u := resample(recording, speed)
		n := 1
		for n < len(padded)+len(u) {
			n <<= 1
		}
		a, b := make([]complex128, n), make([]complex128, n)
		for i, v := range padded {
			a[i] = complex(v, 0)
		}
		var un float64
		for i, v := range u {
			b[i] = complex(v, 0)
			un += v * v
		}
		fft(a, false)
		fft(b, false)
		for i := range a {
			a[i] *= complex(real(b[i]), -imag(b[i]))
		}
		fft(a, true) // a[lag] = n × Σ padded[lag+i]·u[i]
		for lag := 0; lag+len(u) <= len(padded); lag++ {
			if e := cum[lag+len(u)] - cum[lag]; e > 0 {
				best = max(best, real(a[lag])/float64(n)/math.Sqrt(e*un))
			}
		}
	}
	return best
}

func TestSpokenDigitsAreNotThePublicRecordings(t *testing.T) {
	v, err := loadVoice()
	if err != nil {
		t.Fatal(err)
	}
	digits := []byte{3, 1, 4, 1, 5, 9}
	snd := speak(rand.New(rand.NewPCG(1, 2)), &v, digits)
	type clip struct {
		name      string
		digit     byte
		x         []float64
		low, high float64
	}
	// What the old generator played, the recording at another speed, is what the filter finds.
	tests := []clip{{"the recording of 7, 10% slower", 7, resample(v[7], 0.9), 0.9, 1.01}}
	for k, sp := range snd.spans {
		tests = append(tests, clip{fmt.Sprintf("spoken digit %d (%d)", k, digits[k]), digits[k], snd.digits[sp[0]:sp[1]], 0, 0.5})
	}
	for _, tc := range tests {
		if got := bestMatch(tc.x, v[tc.digit]); got < tc.low || got > tc.high {
			t.Errorf("%s matches its recording at %.2f, want %.2f–%.2f", tc.name, got, tc.low, tc.high)
		}
	}
}

func TestDigitsStandOutFromTheBackgroundByTheChosenSNR(t *testing.T) {
	v, err := loadVoice()
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(8) {
		snd := speak(rand.New(rand.NewPCG(seed, 3)), &v, []byte{0, 1, 2, 3, 4, 5})
		if len(snd.spans) != 6 {
			t.Fatalf("%d digit spans, want 6", len(snd.spans))
		}
		if snr := snd.SNR(); snr < minSNR-0.01 || snr > maxSNR+0.01 {
			t.Errorf("SNR %.2f dB, want %d–%d dB", snr, minSNR, maxSNR)
		}
		// Between digits the digit layer is silent: what is heard there is background only.
		at := 0
		for _, sp := range snd.spans {
			for i := at; i < sp[0]; i++ {
				if snd.digits[i] != 0 {
					t.Fatalf("digit layer sounds at %d, between digits", i)
				}
			}
			at = sp[1]
		}
		if seconds := float64(len(snd.digits)) / sampleRate; seconds > maxAudioSeconds {
			t.Errorf("%.2f s long, want at most %.1f s", seconds, maxAudioSeconds)
		}
	}
}

// Without HELLO_SECRET nobody can predict a drawing: the same id and digits drawn under
// another secret look and sound different.
func TestDrawingsDependOnTheSecret(t *testing.T) {
	v, err := loadVoice()
	if err != nil {
		t.Fatal(err)
	}
	const id = "the-same-id"
	digits := []byte{1, 2, 3, 4, 5, 6}
	draw := func(secret string) (img, snd []byte) {
		r := newRenderer([]byte(secret))
		var i, a bytes.Buffer
		if err := writePNG(&i, drawImage(r.rand("image", id), digits)); err != nil {
			t.Fatal(err)
		}
		if err := writeWAV(&a, speak(r.rand("audio", id), &v, digits).mix()); err != nil {
			t.Fatal(err)
		}
		return i.Bytes(), a.Bytes()
	}
	img1, snd1 := draw("one secret")
	img2, snd2 := draw("another secret")
	again1, againSnd1 := draw("one secret")
	if bytes.Equal(img1, img2) || bytes.Equal(snd1, snd2) {
		t.Error("two secrets drew one id alike")
	}
	if !bytes.Equal(img1, again1) || !bytes.Equal(snd1, againSnd1) {
		t.Error("one secret drew one id twice differently")
	}
}
