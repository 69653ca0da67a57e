package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// sphinx runs pocketsphinx (US English acoustic model, 16 kHz) over a batch of sounds, with a
// grammar that allows exactly six digits, and returns the digits it hears in each.
func sphinx(dir string, sounds [][]float64) ([]string, error) {
	ctl := &strings.Builder{}
	for i, x := range sounds {
		name := fmt.Sprintf("u%05d", i)
		if err := os.WriteFile(filepath.Join(dir, name+".raw"), upsample16k(x), 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintln(ctl, name)
	}
	gram := `#JSGF V1.0;
grammar digits;
<d> = zero | oh | one | two | three | four | five | six | seven | eight | nine;
public <digits> = <d> <d> <d> <d> <d> <d>;
`
	files := map[string]string{"ctl": ctl.String(), "digits.gram": gram}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return nil, err
		}
	}
	hyp := filepath.Join(dir, "out.hyp")
	cmd := exec.Command("pocketsphinx_batch", "-adcin", "yes", "-cepdir", dir, "-cepext", ".raw",
		"-ctl", filepath.Join(dir, "ctl"), "-jsgf", filepath.Join(dir, "digits.gram"), "-hyp", hyp,
		"-logfn", filepath.Join(dir, "log"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pocketsphinx_batch: %w: %s", err, out)
	}
	b, err := os.ReadFile(hyp)
	if err != nil {
		return nil, err
	}
	words := map[string]byte{"zero": '0', "oh": '0', "one": '1', "two": '2', "three": '3', "four": '4',
		"five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9'}
	got := make([]string, len(sounds))
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// "one two three … (u00001 -12345)"
		line := sc.Text()
		open := strings.LastIndex(line, "(")
		if open < 0 {
			continue
		}
		id := strings.Fields(line[open+1:])
		if len(id) == 0 {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(id[0], "u"))
		if err != nil || i >= len(got) {
			continue
		}
		var digits []byte
		for _, w := range strings.Fields(line[:open]) {
			if d, ok := words[strings.ToLower(w)]; ok {
				digits = append(digits, d)
			}
		}
		got[i] = string(digits)
	}
	return got, sc.Err()
}

// tesseract reads each image (PNG files) as one line of digits.
func tesseract(dir string, images [][]byte) ([]string, error) {
	list := &strings.Builder{}
	for i, img := range images {
		name := filepath.Join(dir, fmt.Sprintf("i%05d.png", i))
		if err := os.WriteFile(name, img, 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintln(list, name)
	}
	listFile := filepath.Join(dir, "images.txt")
	if err := os.WriteFile(listFile, []byte(list.String()), 0o600); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "ocr")
	cmd := exec.Command("tesseract", listFile, out, "--psm", "7", "-c", "tessedit_char_whitelist=0123456789", "tsv")
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tesseract: %w: %s", err, b)
	}
	b, err := os.ReadFile(out + ".tsv")
	if err != nil {
		return nil, err
	}
	got := make([]string, len(images))
	// Columns: level page_num block_num par_num line_num word_num left top width height conf text.
	for _, line := range strings.Split(string(b), "\n") {
		col := strings.Split(line, "\t")
		if len(col) < 12 || col[0] != "5" {
			continue
		}
		page, err := strconv.Atoi(col[1])
		if err != nil || page < 1 || page > len(got) {
			continue
		}
		got[page-1] += strings.TrimSpace(col[11])
	}
	return got, nil
}
