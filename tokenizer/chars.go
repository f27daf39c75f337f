package tokenizer

import "unicode"

// isWS is Unicode White_Space, which is what Oniguruma's \s, Rust's
// char::is_whitespace and .NET's \s (regexp2) all accept.
func isWS(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

func isL(r rune) bool {
	if r < 0x80 {
		return (r|0x20) >= 'a' && (r|0x20) <= 'z'
	}
	return unicode.IsLetter(r)
}

func isN(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isBertPunc is HF's is_bert_punc / is_punc: ASCII punctuation or Unicode P*.
func isBertPunc(r rune) bool {
	if r < 0x80 {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}

// isWordChar approximates Rust regex \w: Alphabetic, M, Nd, Pc, Join_Control.
func isWordChar(r rune) bool {
	if r < 0x80 {
		return isL(r) || isN(r) || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Nl, r) ||
		unicode.Is(unicode.Other_Alphabetic, r) || unicode.Is(unicode.Join_Control, r)
}

// isOnigWord is Oniguruma's Unicode \w as HF's onig build has it: Alphabetic
// (L, Nl, Other_Alphabetic), Mark, Nd and Pc, plus the Latin-1 No chars
// (superscripts and fractions ¹²³¼½¾) that its ISO-8859-1 table marks as word.
// Unlike Rust's \w it has no Join_Control.
func isOnigWord(r rune) bool {
	if r < 0x80 {
		return isL(r) || isN(r) || r == '_'
	}
	if r < 0x100 && unicode.Is(unicode.No, r) {
		return true
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) ||
		unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r)
}

// isOther is Rust unicode_categories is_other: Cc, Cf, Cs, Co, Cn.
func isOther(r rune) bool {
	if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r) || unicode.Is(unicode.Cs, r) {
		return true
	}
	// Cn: unassigned.
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
}

func isChineseChar(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF, r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F, r >= 0x2B740 && r <= 0x2B81F, r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF, r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// byte-level alphabet (GPT-2 bytes_to_unicode).
var (
	byteToRune  [256]rune
	byteToStr   [256]string
	runeToByte  = map[rune]byte{}
	byteLevelSp = rune(0x120) // 'Ġ'
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		byteToStr[b] = string(byteToRune[b])
		runeToByte[byteToRune[b]] = byte(b)
	}
}
