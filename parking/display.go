package parking

import (
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Profile is what a screen can do, from the camera's read-only properties.
type Profile struct {
	Mode NoticeMode // LedNoticeMode
	// Rows is LedRowNumber as reported: its absolute value is the number of
	// rows; a negative value means the screen understands "<br>"; 0 is
	// unknown (4 rows, no "<br>", §10 G15).
	Rows   int
	QRCode bool // IsSurportQrCode
	// RowWidth is the row capacity in cells (CJK = 2); 0 is unknown. Static
	// lines wider than it are scrolled right to left rather than cut (§11 item 1).
	RowWidth int
}

// PhysicalRows is the number of rows: |Rows|, or 4 when unknown.
func (p Profile) PhysicalRows() int {
	switch {
	case p.Rows < 0:
		return min(-p.Rows, MaxRows)
	case p.Rows == 0:
		return DefaultScreenLines
	}
	return min(p.Rows, MaxRows)
}

// LineBreaks reports whether the screen takes several rows as one
// "<br>"-joined text on row 1.
func (p Profile) LineBreaks() bool { return p.Rows < 0 }

// Screen is what the host wants shown and said, whatever the screen's mode.
type Screen struct {
	Plate     string    // replaces #p in lines and voice
	Lines     []string  // top to bottom; may contain "<br>" to split a line
	Voice     string    // spoken text; empty: silence
	Color     Color     // for every line; default green
	Seconds   int       // how long the message stays; ≤ 0: 10 s
	Situation Situation // the scene, for screens that file content by scene
}

// Rendering is a Screen turned into service invokes for one Profile, and
// what its rows will read.
type Rendering struct {
	Services []Service
	Rows     []string // the rows as sent, top to bottom
	// Dropped counts lines beyond the screen's rows. Truncated counts texts
	// cut to a limit: the renderer does not fail on length, it cuts on a
	// character boundary (128 characters per mixed-mode line, 2048 bytes
	// per separated-mode text) and says so here. The codecs never truncate.
	Dropped, Truncated int
}

var brToken = regexp.MustCompile(`(?i)<br\s*/?>`)

// splitBreaks splits lines at <br>, <br/> and <BR> (§10 G15).
func splitBreaks(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if strings.Contains(l, "<") {
			out = append(out, brToken.Split(l, -1)...)
			continue
		}
		out = append(out, l)
	}
	return out
}

func cutBytes(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// Render turns s into the invokes for p: AddLedData (a temporary scene)
// in mixed mode; NoticeBroadcast plus one NoticeDisplay per row, or one
// "<br>"-joined NoticeDisplay on row 1 for screens with a negative
// LedRowNumber, in separated mode.
func (p Profile) Render(s Screen) Rendering {
	var r Rendering
	rows := p.PhysicalRows()
	lines := splitBreaks(s.Lines)
	for i := range lines {
		lines[i] = strings.ReplaceAll(CleanText(lines[i]), "#p", s.Plate)
	}
	if len(lines) > rows {
		r.Dropped = len(lines) - rows
		lines = lines[:rows]
	}
	voice := strings.ReplaceAll(CleanText(s.Voice), "#p", s.Plate)
	seconds := clampDuration(s.Seconds, DefaultShowTime)
	color := s.Color.Normalize()
	if p.Mode == Mixed {
		d := LedData{Type: TemporaryScene, PlateNumber: s.Plate, ShowTime: seconds, ScreenLineNum: rows,
			ContextList: make([]LedLine, len(lines))}
		if s.Plate == "" && s.Situation == SituationNoPlate {
			d.Type = PersonalizedScene
		}
		for i, l := range lines {
			if utf8.RuneCountInString(l) > MaxCustomContextLen {
				l = TruncateRunes(l, MaxCustomContextLen)
				r.Truncated++
			}
			d.ContextList[i] = LedLine{RunType: p.runType(l), ColorType: color, CustomContext: l}
		}
		// The whole must fit 2048 bytes: cut the voice, then drop lines.
		d.AudioContextInfo = voice
		for {
			if _, err := d.Encode(); !errors.Is(err, ErrTooLong) {
				break
			}
			if n := utf8.RuneCountInString(d.AudioContextInfo); n > 0 {
				d.AudioContextInfo = TruncateRunes(d.AudioContextInfo, n/2)
				r.Truncated++
			} else if n := len(d.ContextList); n > 0 {
				d.ContextList = d.ContextList[:n-1]
				r.Dropped++
			} else {
				break
			}
		}
		r.Services = []Service{AddLedData{Data: d}}
		for _, l := range d.ContextList {
			r.Rows = append(r.Rows, l.CustomContext)
		}
		return r
	}
	if voice != "" {
		v, cut := cutBytes(voice, MaxContentLen)
		if cut {
			r.Truncated++
		}
		r.Services = append(r.Services, NoticeBroadcast{VoiceContent: v})
	}
	// A message replaces the whole screen, as it does in mixed mode: rows
	// it leaves out are blanked rather than left showing the last car's.
	for len(lines) < rows {
		lines = append(lines, "")
	}
	if p.LineBreaks() && len(lines) > 1 {
		text, cut := cutBytes(strings.Join(lines, "<br>"), MaxContentLen)
		if cut {
			r.Truncated++
		}
		r.Services = append(r.Services, NoticeDisplay{DisplayContent: text, RowNumber: 1, DisplayTime: seconds})
		r.Rows = strings.Split(text, "<br>")
		return r
	}
	for i, l := range lines {
		l, cut := cutBytes(l, MaxContentLen)
		if cut {
			r.Truncated++
		}
		r.Services = append(r.Services, NoticeDisplay{DisplayContent: l, RowNumber: i + 1, DisplayTime: seconds, MovingType: p.runType(l)})
		r.Rows = append(r.Rows, l)
	}
	return r
}

func (p Profile) runType(line string) RunType {
	if p.RowWidth > 0 && Cells(line) > p.RowWidth {
		return RightToLeft
	}
	return Static
}

// RenderDefault returns the invokes that make lines the resting content of
// scene sit: DefaultDisplay per row in separated mode, a fixed-scene
// AddLedData in mixed mode.
func (p Profile) RenderDefault(sit Situation, lines []string, color Color) Rendering {
	var r Rendering
	rows := p.PhysicalRows()
	lines = splitBreaks(lines)
	if len(lines) > rows {
		r.Dropped = len(lines) - rows
		lines = lines[:rows]
	}
	if p.Mode == Mixed {
		d := LedData{Type: FixedScene, Situation: sit, ShowTime: DefaultShowTime, ScreenLineNum: rows}
		for _, l := range lines {
			l = CleanText(l)
			if utf8.RuneCountInString(l) > MaxCustomContextLen {
				l = TruncateRunes(l, MaxCustomContextLen)
				r.Truncated++
			}
			d.ContextList = append(d.ContextList, LedLine{RunType: p.runType(l), ColorType: color.Normalize(), CustomContext: l})
			r.Rows = append(r.Rows, l)
		}
		r.Services = []Service{AddLedData{Data: d}}
		return r
	}
	for i, l := range lines {
		l, cut := cutBytes(CleanText(l), MaxContentLen)
		if cut {
			r.Truncated++
		}
		r.Services = append(r.Services, DefaultDisplay{DisplayContent: l, RowNumber: i + 1, DefaultSituation: sit})
		r.Rows = append(r.Rows, l)
	}
	return r
}
