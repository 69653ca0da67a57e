package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/dsp/fourier"
)

const rate = 8000 // Hz, both generators

// readWAV decodes a mono 8 kHz PCM WAV file (8- or 16-bit) to samples in ±1.
func readWAV(b []byte) ([]float64, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a WAV file")
	}
	bits := 0
	for p := 12; p+8 <= len(b); {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8 : min(p+8+n, len(b))]
		switch id {
		case "fmt ":
			if len(body) < 16 || binary.LittleEndian.Uint16(body[2:]) != 1 || binary.LittleEndian.Uint32(body[4:]) != rate {
				return nil, errors.New("want mono 8 kHz PCM")
			}
			bits = int(binary.LittleEndian.Uint16(body[14:]))
		case "data":
			switch bits {
			case 8:
				x := make([]float64, len(body))
				for i, v := range body {
					x[i] = (float64(v) - 128) / 128
				}
				return x, nil
			case 16:
				x := make([]float64, len(body)/2)
				for i := range x {
					x[i] = float64(int16(binary.LittleEndian.Uint16(body[2*i:]))) / 32768
				}
				return x, nil
			}
			return nil, fmt.Errorf("%d-bit samples", bits)
		}
		p += 8 + n + n%2
	}
	return nil, errors.New("no data chunk")
}

// readVoice reads the public digit recordings (8-bit WAV files voice/en-0.wav … en-9.wav).
func readVoice(dir string) ([10][]float64, error) {
	var v [10][]float64
	for d := range v {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("en-%d.wav", d)))
		if err != nil {
			return v, err
		}
		if v[d], err = readWAV(b); err != nil {
			return v, err
		}
	}
	return v, nil
}

// fft transforms a in place with gonum's FFT, not the generator's own code: forward e^-i,
// inverse e^+i, both unscaled.
func fft(a []complex128, inverse bool) {
	f := fourier.NewCmplxFFT(len(a))
	src := append([]complex128(nil), a...)
	if inverse {
		f.Sequence(a, src)
	} else {
		f.Coefficients(a, src)
	}
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// Log-mel features: 32 ms Hann frames every 10 ms, 20 bands from 100 to 3,800 Hz.
const (
	frameLen = 256
	hop      = 80
	bands    = 20
)

type melBank [bands][frameLen/2 + 1]float64

func newMelBank() *melBank {
	mel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	inv := func(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }
	var edges [bands + 2]float64
	for i := range edges {
		edges[i] = inv(mel(100) + (mel(3800)-mel(100))*float64(i)/(bands+1))
	}
	var mb melBank
	for b := range bands {
		for k := range frameLen/2 + 1 {
			f := float64(k) * rate / frameLen
			switch {
			case f > edges[b] && f <= edges[b+1]:
				mb[b][k] = (f - edges[b]) / (edges[b+1] - edges[b])
			case f > edges[b+1] && f < edges[b+2]:
				mb[b][k] = (edges[b+2] - f) / (edges[b+2] - edges[b+1])
			}
		}
	}
	return &mb
}

// features returns one log-mel vector per 10 ms, each band's mean over the file subtracted.
func (mb *melBank) features(x []float64) [][bands]float64 {
	n := max(0, (len(x)-frameLen)/hop+1)
	out := make([][bands]float64, n)
	buf := make([]complex128, frameLen)
	var mean [bands]float64
	for f := range n {
		for i := range frameLen {
			w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/frameLen)
			buf[i] = complex(w*x[f*hop+i], 0)
		}
		fft(buf, false)
		for b := range bands {
			var e float64
			for k, g := range mb[b] {
				if g != 0 {
					e += g * (real(buf[k])*real(buf[k]) + imag(buf[k])*imag(buf[k]))
				}
			}
			out[f][b] = math.Log(e + 1e-9)
			mean[b] += out[f][b] / float64(n)
		}
	}
	for f := range out {
		for b := range bands {
			out[f][b] -= mean[b]
		}
	}
	return out
}

// upsample16k doubles the sample rate (cubic interpolation) for recognisers trained at 16 kHz,
// as 16-bit little-endian PCM.
func upsample16k(x []float64) []byte {
	at := func(i int) float64 {
		if i < 0 || i >= len(x) {
			return 0
		}
		return x[i]
	}
	out := make([]byte, 0, 4*len(x))
	for k := range x {
		p0, p1, p2, p3 := at(k-1), at(k), at(k+1), at(k+2)
		mid := p1 + 0.25*(p2-p0+0.5*(2*p0-5*p1+4*p2-p3+0.5*(3*(p1-p2)+p3-p0)))
		for _, v := range []float64{p1, mid} {
			out = binary.LittleEndian.AppendUint16(out, uint16(int16(math.Round(min(max(v, -1), 1)*32767))))
		}
	}
	return out
}
