package account

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ValidatePassword applies NIST SP 800-63B's length rule to a new password: 8 to 256
// characters of any Unicode, no composition rules. It counts the NFKC form, the one the
// hasher hashes: "é" typed as e + combining accent is one character, "ﬀ" is two.
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) {
		return Errorf(CodeInvalidRequest, "password is not valid UTF-8")
	}
	if !passwordLenOK(norm.NFKC.String(pw)) {
		return Errorf(CodeInvalidRequest, "password must be %d to %d characters long", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// validateLoginPassword refuses, before any guard or hash work, only passwords no account can
// have. Accounts made before ValidatePassword counted the NFKC form were checked on the typed
// form, so a password either count accepts may be someone's and is let through to verify.
func validateLoginPassword(pw string) error {
	err := ValidatePassword(pw)
	if err != nil && utf8.ValidString(pw) && passwordLenOK(pw) {
		return nil // long enough as typed: the count before NFKC
	}
	return err
}

func passwordLenOK(pw string) bool {
	n := utf8.RuneCountInString(pw)
	return n >= MinPasswordLen && n <= MaxPasswordLen
}

var errWeakPassword = Errorf(CodeWeakPassword,
	"this password is on a list of common and breached passwords, the first ones attackers try: choose another (several unrelated words make a strong one)")

// checkCommonPassword refuses a new password that is on the common-password list (NIST SP
// 800-63B: verifiers SHALL compare new passwords against values known to be commonly used or
// compromised). The comparison ignores case (CommonPasswordForm), as guessing tools try
// "Password1234" right after "password1234". Only signup calls it: an existing account with
// such a password still logs in.
func checkCommonPassword(pw string) error {
	set, err := commonPasswords()
	if err != nil {
		return err
	}
	if set.contains(CommonPasswordForm(pw)) {
		return errWeakPassword
	}
	return nil
}

// CommonPasswordForm is the form in which passwords are compared with the list, and in which
// the list is stored: NFKC (as hashed), case-folded, NFKC again (folding can denormalise).
func CommonPasswordForm(pw string) string { return foldNFKC(pw) }

// commonPasswordsGz is the list, one CommonPasswordForm per line, gzip-compressed; made by
// scripts/gen-common-passwords (source and licence in commonpasswords.NOTICE).
//
//go:embed commonpasswords.txt.gz
var commonPasswordsGz []byte

// commonPasswords decodes the list on first use, the first signup, so that start-up does not
// pay for it. The list is immutable once built.
var commonPasswords = sync.OnceValues(func() (passwordSet, error) {
	set, err := loadPasswordSet(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		return passwordSet{}, fmt.Errorf("loading the embedded common-password list: %w", err)
	}
	return set, nil
})

// passwordSet is a flat hash table of the entries' 64-bit FNV-1a hashes, grouped by their top
// 16 bits: group g is hashes[start[g]:start[g+1]], ~3 hashes. A lookup hashes once and scans
// one group (O(1)); building it is a counting sort (linear, no comparison sort); it holds 8
// bytes per entry plus 256 KiB of group starts. A false match needs a 64-bit collision with
// one of ~2^18 entries (odds ~2^-46 per password), and would only refuse a password.
type passwordSet struct {
	start  []uint32
	hashes []uint64
}

const groupBits = 16

func loadPasswordSet(gz io.Reader) (passwordSet, error) {
	zr, err := gzip.NewReader(gz)
	if err != nil {
		return passwordSet{}, err
	}
	var hashes []uint64
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		hashes = append(hashes, hashPassword(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		return passwordSet{}, err
	}
	if err := zr.Close(); err != nil {
		return passwordSet{}, err
	}
	return newPasswordSet(hashes), nil
}

func newPasswordSet(hashes []uint64) passwordSet {
	s := passwordSet{start: make([]uint32, 1<<groupBits+1), hashes: make([]uint64, len(hashes))}
	for _, h := range hashes {
		s.start[h>>(64-groupBits)+1]++
	}
	for g := 1; g < len(s.start); g++ {
		s.start[g] += s.start[g-1]
	}
	next := slices.Clone(s.start)
	for _, h := range hashes {
		g := h >> (64 - groupBits)
		s.hashes[next[g]] = h
		next[g]++
	}
	return s
}

func (s passwordSet) contains(form string) bool {
	h := hashPassword(form)
	g := h >> (64 - groupBits)
	return slices.Contains(s.hashes[s.start[g]:s.start[g+1]], h)
}

// hashPassword is 64-bit FNV-1a, written out so that hashing the list allocates nothing.
func hashPassword[T string | []byte](b T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	return h
}
