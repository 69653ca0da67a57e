package main

import (
	"math"
)

// The waveform matched filter: normalised cross-correlation of the audio with a bank of digit
// recordings, then the best placement of six digits that the generator's timing allows. It is
// the attack that solved half of the old audio challenges with the library's public samples.
// It runs at 4 kHz (speech below 2 kHz), which halves its cost and forgives small errors in the
// guessed speed.

// decimate halves the sample rate (a [1 2 1]/4 low-pass, then every other sample).
func decimate(x []float64) []float64 {
	at := func(i int) float64 {
		if i < 0 || i >= len(x) {
			return 0
		}
		return x[i]
	}
	y := make([]float64, len(x)/2)
	for i := range y {
		y[i] = (at(2*i-1) + 2*at(2*i) + at(2*i+1)) / 4
	}
	return y
}

const mfHop = hop / 2 // samples per 10 ms frame at 4 kHz

type template struct {
	digit int
	x     []float64 // zero mean, unit norm
}

func newTemplate(d int, x []float64) template {
	x = decimate(x)
	var mean, norm float64
	for _, v := range x {
		mean += v / float64(len(x))
	}
	u := make([]float64, len(x))
	for i, v := range x {
		u[i] = v - mean
		norm += u[i] * u[i]
	}
	for i := range u {
		u[i] /= math.Sqrt(norm)
	}
	return template{d, u}
}

// changeSpeed is the old generator's own speed change (sample repetition).
func changeSpeed(a []float64, speed float64) []float64 {
	b := make([]float64, int(math.Floor(float64(len(a))*speed)))
	var p float64
	for _, v := range a {
		for i := int(p); i < int(p+speed) && i < len(b); i++ {
			b[i] = v
		}
		p += speed
	}
	return b
}

// matchedFilter holds the bank's spectra at one FFT size, two templates per complex spectrum.
type matchedFilter struct {
	bank    []template
	n       int
	spectra [][]complex128
}

func newMatchedFilter(bank []template, maxLen int) *matchedFilter {
	longest := 0
	for _, t := range bank {
		longest = max(longest, len(t.x))
	}
	mf := &matchedFilter{bank: bank, n: nextPow2(maxLen/2 + longest)}
	for i := 0; i < len(bank); i += 2 {
		s := make([]complex128, mf.n)
		for j, v := range bank[i].x {
			s[j] = complex(v, 0)
		}
		if i+1 < len(bank) {
			for j, v := range bank[i+1].x {
				s[j] += complex(0, v)
			}
		}
		fft(s, false)
		mf.spectra = append(mf.spectra, s)
	}
	return mf
}

// frameScores is, per 10 ms frame and digit, the best correlation of a template starting in
// that frame and that template's length in frames.
type frameScores struct {
	score  [][10]float64
	length [][10]int
}

func (mf *matchedFilter) scores(x []float64) frameScores {
	x = decimate(x)
	if len(x) > mf.n-1 {
		x = x[:mf.n-1]
	}
	frames := len(x)/mfHop + 1
	fs := frameScores{score: make([][10]float64, frames), length: make([][10]int, frames)}
	for f := range fs.score {
		for d := range 10 {
			fs.score[f][d] = -1
		}
	}
	X := make([]complex128, mf.n)
	for i, v := range x {
		X[i] = complex(v, 0)
	}
	fft(X, false)
	// Running energy for each window length.
	cum := make([]float64, len(x)+1)
	for i, v := range x {
		cum[i+1] = cum[i] + v*v
	}
	c := make([]complex128, mf.n)
	for k, S := range mf.spectra {
		for i := range c {
			c[i] = X[i] * complex(real(S[i]), -imag(S[i]))
		}
		fft(c, true)
		for half := range 2 {
			ti := 2*k + half
			if ti >= len(mf.bank) {
				break
			}
			t := mf.bank[ti]
			L := len(t.x)
			for s := 0; s+L <= len(x); s++ {
				v := real(c[s]) / float64(mf.n)
				if half == 1 {
					v = -imag(c[s]) / float64(mf.n)
				}
				e := cum[s+L] - cum[s]
				if e <= 1e-9 {
					continue
				}
				v /= math.Sqrt(e)
				if f := s / mfHop; v > fs.score[f][t.digit] {
					fs.score[f][t.digit], fs.length[f][t.digit] = v, L/mfHop
				}
			}
		}
	}
	return fs
}

// place chooses six digits, one start frame each, in order, with the generator's gaps between
// them, maximising the summed scores. digitAt gives the candidate digit (and its score and
// length) at step k and frame f: the best digit when solving, the known one when aligning.
func place(frames int, steps int, tm timing, digitAt func(k, f int) (d int, score float64, length int)) (digits []int, starts []int, ends []int) {
	minGap, maxGap := int(tm.minGap*100), int(tm.maxGap*100)
	neg := math.Inf(-1)
	best := make([][]float64, steps)
	from := make([][]int, steps)
	for k := range best {
		best[k] = make([]float64, frames)
		from[k] = make([]int, frames)
		for f := range best[k] {
			best[k][f] = neg
			from[k][f] = -1
		}
	}
	for f := range frames {
		_, s, _ := digitAt(0, f)
		best[0][f] = s
	}
	for k := 1; k < steps; k++ {
		for f := range frames {
			if best[k-1][f] == neg {
				continue
			}
			_, _, l := digitAt(k-1, f)
			for g := f + l + minGap; g <= f+l+maxGap && g < frames; g++ {
				_, s, _ := digitAt(k, g)
				if v := best[k-1][f] + s; v > best[k][g] {
					best[k][g], from[k][g] = v, f
				}
			}
		}
	}
	end, top := -1, neg
	for f, v := range best[steps-1] {
		if v > top {
			end, top = f, v
		}
	}
	if end < 0 {
		return nil, nil, nil
	}
	digits, starts, ends = make([]int, steps), make([]int, steps), make([]int, steps)
	for k, f := steps-1, end; k >= 0; k-- {
		d, _, l := digitAt(k, f)
		digits[k], starts[k], ends[k] = d, f, f+l
		f = from[k][f]
	}
	return digits, starts, ends
}

// solve returns the six digits the matched filter hears in x.
func (mf *matchedFilter) solve(x []float64, tm timing) string {
	fs := mf.scores(x)
	digits, _, _ := place(len(fs.score), 6, tm, func(_, f int) (int, float64, int) {
		best := 0
		for d := range 10 {
			if fs.score[f][d] > fs.score[f][best] {
				best = d
			}
		}
		return best, fs.score[f][best], fs.length[f][best]
	})
	return digitString(digits)
}

// align finds where the known answer's digits are spoken in x (frame spans).
func (mf *matchedFilter) align(x []float64, answer string, tm timing) (starts, ends []int) {
	fs := mf.scores(x)
	_, starts, ends = place(len(fs.score), len(answer), tm, func(k, f int) (int, float64, int) {
		d := int(answer[k] - '0')
		return d, fs.score[f][d], fs.length[f][d]
	})
	return starts, ends
}

func digitString(digits []int) string {
	b := make([]byte, len(digits))
	for i, d := range digits {
		b[i] = '0' + byte(d)
	}
	return string(b)
}
