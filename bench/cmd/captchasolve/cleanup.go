package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"sort"
)

// Image clean-ups an OCR attacker runs before tesseract. Each returns a black-on-white PNG.
type cleanup struct {
	name string
	run  func(image.Image) []bool // ink mask, row-major
}

func cleanups() []cleanup {
	return []cleanup{
		// tesseract's own binarisation, on the image as served.
		{"plain", nil},
		// Generic: a median filter drops specks, Otsu's threshold splits ink from paper, specks and
		// crumbs left are dropped.
		{"otsu", func(m image.Image) []bool { return dropCrumbs(m.Bounds(), otsu(m)) }},
		// What the generator's code suggests: the old one draws digits (and its one line) in palette
		// colour 1 and its circles in others; the new one cuts its strokes with thin paper-coloured
		// lines, which a closing heals.
		{"aware", func(m image.Image) []bool {
			if p, ok := m.(*image.Paletted); ok {
				mask := make([]bool, len(p.Pix))
				for i, c := range p.Pix {
					mask[i] = c == 1
				}
				return dropCrumbs(m.Bounds(), dilate(m.Bounds(), mask)) // its strokes are dotted
			}
			r := m.Bounds()
			return dropCrumbs(r, erode(r, dilate(r, otsu(m))))
		}},
	}
}

func (c cleanup) apply(b []byte) ([]byte, error) {
	if c.run == nil {
		return b, nil
	}
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r := m.Bounds()
	mask := c.run(m)
	const pad = 12
	out := image.NewGray(image.Rect(0, 0, r.Dx()+2*pad, r.Dy()+2*pad))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	for y := range r.Dy() {
		for x := range r.Dx() {
			if mask[y*r.Dx()+x] {
				out.SetGray(x+pad, y+pad, color.Gray{})
			}
		}
	}
	var buf bytes.Buffer
	err = png.Encode(&buf, out)
	return buf.Bytes(), err
}

// otsu thresholds the 3×3 median of the image's luminance.
func otsu(m image.Image) []bool {
	r := m.Bounds()
	w, h := r.Dx(), r.Dy()
	lum := make([]uint8, w*h)
	for y := range h {
		for x := range w {
			// Over white paper: the old images are transparent around the ink.
			cr, cg, cb, ca := m.At(r.Min.X+x, r.Min.Y+y).RGBA()
			paper := 0xffff - ca
			lum[y*w+x] = uint8((299*(cr+paper) + 587*(cg+paper) + 114*(cb+paper)) / 1000 >> 8)
		}
	}
	med := make([]uint8, w*h)
	var win []uint8
	for y := range h {
		for x := range w {
			win = win[:0]
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := min(max(x+dx, 0), w-1), min(max(y+dy, 0), h-1)
					win = append(win, lum[yy*w+xx])
				}
			}
			sort.Slice(win, func(i, j int) bool { return win[i] < win[j] })
			med[y*w+x] = win[4]
		}
	}
	var hist [256]float64
	for _, v := range med {
		hist[v]++
	}
	total := float64(len(med))
	var sum float64
	for i, c := range hist {
		sum += float64(i) * c
	}
	var wB, sumB, bestVar float64
	threshold := 128
	for t := range 256 {
		wB += hist[t]
		if wB == 0 || wB == total {
			continue
		}
		sumB += float64(t) * hist[t]
		mB, mF := sumB/wB, (sum-sumB)/(total-wB)
		if v := wB * (total - wB) * (mB - mF) * (mB - mF); v > bestVar {
			bestVar, threshold = v, t
		}
	}
	mask := make([]bool, len(med))
	for i, v := range med {
		mask[i] = int(v) <= threshold
	}
	return mask
}

func dilate(r image.Rectangle, m []bool) []bool { return morph(r, m, true) }
func erode(r image.Rectangle, m []bool) []bool  { return morph(r, m, false) }

func morph(r image.Rectangle, m []bool, grow bool) []bool {
	w, h := r.Dx(), r.Dy()
	out := make([]bool, len(m))
	for y := range h {
		for x := range w {
			v := !grow
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					in := xx >= 0 && yy >= 0 && xx < w && yy < h && m[yy*w+xx]
					if grow && in {
						v = true
					}
					if !grow && !in {
						v = false
					}
				}
			}
			out[y*w+x] = v
		}
	}
	return out
}

// dropCrumbs removes 8-connected ink components smaller than a digit's dot.
func dropCrumbs(r image.Rectangle, m []bool) []bool {
	const minArea = 30
	w, h := r.Dx(), r.Dy()
	seen := make([]bool, len(m))
	var stack, comp []int
	for start := range m {
		if !m[start] || seen[start] {
			continue
		}
		stack, comp = append(stack[:0], start), comp[:0]
		seen[start] = true
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, p)
			x, y := p%w, p/w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx < 0 || yy < 0 || xx >= w || yy >= h {
						continue
					}
					if q := yy*w + xx; m[q] && !seen[q] {
						seen[q] = true
						stack = append(stack, q)
					}
				}
			}
		}
		if len(comp) < minArea {
			for _, p := range comp {
				m[p] = false
			}
		}
	}
	return m
}
