package accessctl

import "log/slog"

// LogValue methods make slog print the redacted String form: JSON handlers
// would otherwise marshal passwords, ID numbers and face bytes verbatim.

func (g Grant) LogValue() slog.Value      { return slog.StringValue(g.String()) }
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }
func (im *Image) LogValue() slog.Value    { return slog.StringValue(im.String()) }
func (e Event) LogValue() slog.Value      { return slog.StringValue(e.String()) }
func (p *PassEvent) LogValue() slog.Value {
	if p == nil {
		return slog.StringValue("<nil>")
	}
	return slog.StringValue(p.String())
}
