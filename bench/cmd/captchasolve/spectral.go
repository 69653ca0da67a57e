package main

import (
	"math"
)

// The spectral matcher: a matched filter on log-mel spectrograms, which pitch and phase changes
// do not fool the way they fool a waveform filter. Every stretch of audio that could be a digit
// (each start, each plausible length) is resampled to a fixed number of frames and compared with
// per-digit templates learned from labelled challenges (means, with a pooled variance); the best
// placement of six digits the generator's timing allows wins.

const segFrames = 12 // a digit's features, resampled to this many frames

type segVec [segFrames * bands]float64

func segment(feat [][bands]float64, start, length int) segVec {
	var v segVec
	for i := range segFrames {
		t := float64(start) + float64(i)*float64(length-1)/float64(segFrames-1)
		k := min(int(t), len(feat)-1)
		f := t - float64(k)
		next := min(k+1, len(feat)-1)
		for b := range bands {
			v[i*bands+b] = (1-f)*feat[k][b] + f*feat[next][b]
		}
	}
	return v
}

type spectralModel struct {
	mean           [10]segVec
	invVar         segVec
	minLen, maxLen int // frames
}

// labelled is a challenge's features with its answer and where each digit is (frame spans).
type labelled struct {
	feat   [][bands]float64
	answer string
	starts []int
	ends   []int
}

// trainSpectral learns the templates from labelled challenges.
func trainSpectral(data []labelled) *spectralModel {
	m := &spectralModel{minLen: math.MaxInt}
	var count [10]float64
	var vecs [10][]segVec
	for _, l := range data {
		for k := range l.answer {
			length := l.ends[k] - l.starts[k]
			if length < 4 || l.ends[k] > len(l.feat) {
				continue
			}
			d := int(l.answer[k] - '0')
			v := segment(l.feat, l.starts[k], length)
			vecs[d] = append(vecs[d], v)
			count[d]++
			for i := range v {
				m.mean[d][i] += v[i]
			}
			m.minLen, m.maxLen = min(m.minLen, length), max(m.maxLen, length)
		}
	}
	for d := range 10 {
		for i := range m.mean[d] {
			m.mean[d][i] /= max(count[d], 1)
		}
	}
	var variance segVec
	var n float64
	for d := range 10 {
		for _, v := range vecs[d] {
			for i := range v {
				e := v[i] - m.mean[d][i]
				variance[i] += e * e
			}
			n++
		}
	}
	for i := range variance {
		m.invVar[i] = 1 / (variance[i]/n + 1e-3)
	}
	return m
}

func (m *spectralModel) classify(v *segVec) (digit int, dist float64) {
	dist = math.Inf(1)
	for d := range 10 {
		var s float64
		for i := range v {
			e := v[i] - m.mean[d][i]
			s += e * e * m.invVar[i]
		}
		if s < dist {
			digit, dist = d, s
		}
	}
	return digit, dist / float64(len(v))
}

// solve returns the six digits the model hears in feat.
func (m *spectralModel) solve(feat [][bands]float64, tm timing) string {
	lengths := []int{}
	for l := m.minLen; l <= m.maxLen; l += 2 {
		lengths = append(lengths, l)
	}
	type cand struct {
		digit, length int
		score         float64
	}
	// The best digit and length starting at each frame.
	best := make([]cand, len(feat))
	for f := range feat {
		best[f] = cand{score: math.Inf(-1), length: m.minLen}
		for _, l := range lengths {
			if f+l > len(feat) {
				break
			}
			v := segment(feat, f, l)
			d, dist := m.classify(&v)
			if -dist > best[f].score {
				best[f] = cand{d, l, -dist}
			}
		}
	}
	digits, _, _ := place(len(feat), 6, tm, func(_, f int) (int, float64, int) {
		return best[f].digit, best[f].score, best[f].length
	})
	return digitString(digits)
}
