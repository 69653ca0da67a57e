package captcha

import (
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/cmplx"
	"math/rand/v2"
)

// The sound is one talker saying the digits over a crowd saying digits too. The recordings are
// public (voice/, from github.com/dchest/captcha, MIT), so none is played as recorded: every
// digit is resampled (pitch and formants), time-stretched (tempo), shifted in frequency (so no
// speed of the recording lines up with it) and equalised anew per digit and per challenge, the
// gaps between digits are random, and behind them run several babble streams made of the same
// recordings, forwards and reversed, each at its own pitch and pace, plus noise, at a
// per-challenge level. A person follows the one steady, louder voice; a
// matched filter finds every talker's digits and cannot tell which are the answer.

const sampleRate = 8000 // Hz; WAV mono 16-bit PCM

//go:embed voice/en-*.wav
var voiceFiles embed.FS

// voice holds the ten recordings as samples scaled to unit RMS.
type voice [10][]float64

func loadVoice() (voice, error) {
	var v voice
	for d := range v {
		b, err := voiceFiles.ReadFile(fmt.Sprintf("voice/en-%d.wav", d))
		if err != nil {
			return v, err
		}
		pcm, err := wavData(b)
		if err != nil {
			return v, fmt.Errorf("voice/en-%d.wav: %w", d, err)
		}
		x := make([]float64, len(pcm))
		for i, s := range pcm {
			x[i] = float64(s) - 128 // 8-bit WAV samples are unsigned
		}
		v[d] = scaleTo(x, 1)
	}
	return v, nil
}

// wavData returns the data chunk of an 8-bit mono 8 kHz PCM WAV file.
func wavData(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a WAV file")
	}
	for p := 12; p+8 <= len(b); {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8 : min(p+8+n, len(b))]
		switch id {
		case "fmt ":
			if len(body) < 16 || binary.LittleEndian.Uint16(body) != 1 || binary.LittleEndian.Uint16(body[2:]) != 1 ||
				binary.LittleEndian.Uint32(body[4:]) != sampleRate || binary.LittleEndian.Uint16(body[14:]) != 8 {
				return nil, errors.New("want 8-bit mono 8 kHz PCM")
			}
		case "data":
			return body, nil
		}
		p += 8 + n + n%2
	}
	return nil, errors.New("no data chunk")
}

// scaleTo scales x to the given RMS.
func scaleTo(x []float64, rms float64) []float64 {
	if r := rmsOf(x); r > 0 {
		for i := range x {
			x[i] *= rms / r
		}
	}
	return x
}

func rmsOf(x []float64) float64 {
	var p float64
	for _, v := range x {
		p += v * v
	}
	if len(x) == 0 {
		return 0
	}
	return math.Sqrt(p / float64(len(x)))
}

// resample plays x faster by ratio (>1: higher and shorter), with cubic interpolation.
func resample(x []float64, ratio float64) []float64 {
	out := make([]float64, int(float64(len(x)-1)/ratio))
	at := func(i int) float64 {
		if i < 0 || i >= len(x) {
			return 0
		}
		return x[i]
	}
	for i := range out {
		t := float64(i) * ratio
		k := int(t)
		f := t - float64(k)
		p0, p1, p2, p3 := at(k-1), at(k), at(k+1), at(k+2)
		out[i] = p1 + 0.5*f*(p2-p0+f*(2*p0-5*p1+4*p2-p3+f*(3*(p1-p2)+p3-p0)))
	}
	return out
}

// stretch changes x's tempo (>1: shorter) but not its pitch: overlap-add of 20 ms frames, each
// taken where it best continues the previous one (WSOLA).
func stretch(x []float64, tempo float64) []float64 {
	const n, hop, tol = 160, 80, 40
	outLen := int(float64(len(x)) / tempo)
	out := make([]float64, outLen+n)
	frame := func(pos int, i int) float64 {
		if j := pos + i; j >= 0 && j < len(x) {
			return x[j]
		}
		return 0
	}
	var win [n]float64
	for i := range win {
		win[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/n) // periodic Hann: halves overlap to 1
	}
	prev := 0
	for k := 0; k*hop < outLen; k++ {
		pos := int(float64(k*hop) * tempo)
		if k > 0 {
			best, bestScore := pos, math.Inf(-1)
			for cand := pos - tol; cand <= pos+tol; cand += 2 {
				var score float64
				for i := 0; i < n; i += 2 {
					score += frame(cand, i) * frame(prev+hop, i)
				}
				if score > bestScore {
					best, bestScore = cand, score
				}
			}
			pos = best
		}
		for i, w := range win {
			out[k*hop+i] += w * frame(pos, i)
		}
		prev = pos
	}
	return out[:outLen]
}

// equalise boosts or cuts one band of x in place (an RBJ peaking biquad).
func equalise(x []float64, freq, gainDB, q float64) {
	a := math.Pow(10, gainDB/40)
	w0 := 2 * math.Pi * freq / sampleRate
	alpha := math.Sin(w0) / (2 * q)
	b0, b1, b2 := 1+alpha*a, -2*math.Cos(w0), 1-alpha*a
	a0, a1, a2 := 1+alpha/a, -2*math.Cos(w0), 1-alpha/a
	var x1, x2, y1, y2 float64
	for i, v := range x {
		y := (b0*v + b1*x1 + b2*x2 - a1*y1 - a2*y2) / a0
		x2, x1, y2, y1 = x1, v, y1, y
		x[i] = y
	}
}

// shift moves every frequency in x up (or down) by hz: harmonics stop being multiples of one
// pitch, so the waveform no longer lines up with any speed of the recording, while the spectral
// envelope a listener hears as the vowel barely moves.
func shift(x []float64, hz float64) []float64 {
	n := 1
	for n < len(x) {
		n <<= 1
	}
	a := make([]complex128, n)
	for i, v := range x {
		a[i] = complex(v, 0)
	}
	fft(a, false)
	// The analytic signal: no negative frequencies, positive ones doubled.
	for k := 1; k < n/2; k++ {
		a[k] *= 2
	}
	for k := n/2 + 1; k < n; k++ {
		a[k] = 0
	}
	fft(a, true)
	out := make([]float64, len(x))
	turn, step := complex(1/float64(n), 0), cmplx.Rect(1, 2*math.Pi*hz/sampleRate)
	for i := range out {
		out[i] = real(a[i] * turn)
		turn *= step
	}
	return out
}

// fft transforms a in place (len(a) a power of two); the inverse is unscaled.
func fft(a []complex128, inverse bool) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Rect(1, sign*2*math.Pi/float64(size))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := range size / 2 {
				u, t := a[start+k], wk*a[start+k+size/2]
				a[start+k], a[start+k+size/2] = u+t, u-t
				wk *= w
			}
		}
	}
}

// utter is one spoken digit: recording d at the given pitch and tempo, its frequencies shifted
// by a few tens of hertz and two random bands of its spectrum reshaped, as a different throat
// would.
func utter(rng *rand.Rand, v *voice, d byte, pitch, tempo float64) []float64 {
	x := resample(v[d], pitch)
	if tempo != 1 {
		x = stretch(x, tempo)
	}
	hz := between(rng, 25, 60)
	if rng.IntN(2) == 0 {
		hz = -hz
	}
	x = shift(x, hz)
	for range 2 {
		equalise(x, between(rng, 300, 3000), between(rng, -9, 9), between(rng, 0.7, 2))
	}
	// 10 ms fades, so no digit starts or stops with a click a detector could key on.
	for i := 0; i < 80 && i < len(x)/2; i++ {
		g := float64(i) / 80
		x[i] *= g
		x[len(x)-1-i] *= g
	}
	return scaleTo(x, 1)
}

func reverse(x []float64) []float64 {
	for i, j := 0, len(x)-1; i < j; i, j = i+1, j-1 {
		x[i], x[j] = x[j], x[i]
	}
	return x
}

// sound is a rendered challenge as its two layers, in units of full scale (±1).
type sound struct {
	digits, background []float64
	spans              [][2]int // where each digit is spoken
}

// Bounds of a challenge, in seconds.
const (
	maxAudioSeconds = 8.5
	leadIn, tail    = 0.5, 0.4
)

// speak renders digits (values 0–9) with the randomness of rng.
func speak(rng *rand.Rand, v *voice, digits []byte) sound {
	// One talker: a pitch and tempo for the whole challenge, varied a little per digit.
	pitch, tempo := math.Exp(between(rng, math.Log(0.85), math.Log(1.2))), between(rng, 0.9, 1.15)
	utterances := make([][]float64, len(digits))
	total := int(tail * sampleRate)
	for i, d := range digits {
		utterances[i] = utter(rng, v, d, pitch*between(rng, 0.96, 1.04), tempo*between(rng, 0.92, 1.08))
		total += len(utterances[i])
	}
	gaps := make([]int, len(digits))
	for i := range gaps {
		if i == 0 {
			gaps[i] = int(between(rng, leadIn, leadIn+0.4) * sampleRate)
		} else {
			gaps[i] = int(between(rng, 0.3, 0.8) * sampleRate)
		}
		total += gaps[i]
	}
	s := sound{digits: make([]float64, total), background: make([]float64, total)}
	at := 0
	for i, u := range utterances {
		at += gaps[i]
		gain := math.Pow(10, between(rng, -3, 3)/20)
		for j, x := range u {
			s.digits[at+j] = gain * x
		}
		s.spans = append(s.spans, [2]int{at, at + len(u)})
		at += len(u)
	}

	babble := make([]float64, total)
	for range 4 {
		// Each babble talker's pitch keeps at least 12% from the answer's, a cue to tell them apart.
		bp := pitch * math.Exp(between(rng, math.Log(1.12), math.Log(1.45)))
		if rng.IntN(2) == 0 {
			bp = pitch / math.Exp(between(rng, math.Log(1.12), math.Log(1.45)))
		}
		for at := -rng.IntN(sampleRate / 2); at < total; {
			u := utter(rng, v, byte(rng.IntN(10)), bp*between(rng, 0.97, 1.03), 1)
			if rng.IntN(2) == 0 {
				reverse(u)
			}
			gain := math.Pow(10, between(rng, -4, 2)/20)
			for j, x := range u {
				if k := at + j; k >= 0 && k < total {
					babble[k] += gain * x
				}
			}
			at += len(u) + rng.IntN(sampleRate/5)
		}
	}
	// Noise a little below the babble: white, then smoothed into a darker, speech-like hiss.
	noiseDB := between(rng, 6, 14)
	noise := make([]float64, total)
	var lp float64
	for i := range noise {
		lp = 0.6*lp + 0.4*rng.NormFloat64()
		noise[i] = lp
	}
	scaleTo(noise, rmsOf(babble)*math.Pow(10, -noiseDB/20))
	for i := range babble {
		s.background[i] = babble[i] + noise[i]
	}
	// The background's level under the digits sets the challenge's signal-to-noise ratio.
	snr := between(rng, minSNR, maxSNR)
	fg, bg := s.spanPower()
	g := math.Sqrt(fg / bg / math.Pow(10, snr/10))
	for i := range s.background {
		s.background[i] *= g
	}
	// Peak at 0.9 of full scale.
	var peak float64
	for i := range s.digits {
		peak = max(peak, math.Abs(s.digits[i]+s.background[i]))
	}
	for i := range s.digits {
		s.digits[i] *= 0.9 / peak
		s.background[i] *= 0.9 / peak
	}
	return s
}

// The range of the digits' loudness over the background, in dB.
const minSNR, maxSNR = -2, 4

// spanPower returns the mean power of the digits and of the background while digits are spoken.
func (s sound) spanPower() (digits, background float64) {
	n := 0
	for _, sp := range s.spans {
		for i := sp[0]; i < sp[1]; i++ {
			digits += s.digits[i] * s.digits[i]
			background += s.background[i] * s.background[i]
		}
		n += sp[1] - sp[0]
	}
	return digits / float64(n), background / float64(n)
}

// SNR is the digits' loudness over the background while they are spoken, in dB.
func (s sound) SNR() float64 {
	fg, bg := s.spanPower()
	return 10 * math.Log10(fg/bg)
}

// mix is what a listener hears.
func (s sound) mix() []float64 {
	out := make([]float64, len(s.digits))
	for i := range out {
		out[i] = s.digits[i] + s.background[i]
	}
	return out
}

// writeWAV writes samples (±1 full scale) as an 8 kHz mono 16-bit PCM WAV file.
func writeWAV(w io.Writer, samples []float64) error {
	le := binary.LittleEndian
	n := uint32(2 * len(samples))
	b := make([]byte, 0, 44+n)
	b = le.AppendUint32(append(b, "RIFF"...), 36+n)
	b = le.AppendUint32(append(b, "WAVEfmt "...), 16)
	b = le.AppendUint16(b, 1) // PCM
	b = le.AppendUint16(b, 1) // mono
	b = le.AppendUint32(b, sampleRate)
	b = le.AppendUint32(b, 2*sampleRate) // bytes per second
	b = le.AppendUint16(b, 2)            // bytes per frame
	b = le.AppendUint16(b, 16)           // bits per sample
	b = le.AppendUint32(append(b, "data"...), n)
	for _, v := range samples {
		b = le.AppendUint16(b, uint16(int16(math.Round(min(max(v, -1), 1)*32767))))
	}
	_, err := w.Write(b)
	return err
}

// AudioLayers renders challenge id's sound as WriteAudio does but returns its two layers before
// they are summed, in full-scale units (±1): the spoken digits, silent between them, and the
// background (babble and noise). It serves measurements that must tell them apart: the digits'
// loudness over the background, how well a recogniser hears the digits alone, and the labelled
// data an attacker who runs this code with a secret of their own would train on.
func (s *Service) AudioLayers(id string) (digits, background []float64, err error) {
	d, _, _, err := s.open(id)
	if err != nil {
		return nil, nil, err
	}
	v, err := loadVoice()
	if err != nil {
		return nil, nil, err
	}
	snd := speak(s.render.rand("audio", id), &v, d)
	return snd.digits, snd.background, nil
}
