package remotewrite

import (
	"bufio"
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
)

// TextWriter prints requests in the Prometheus text format (one sample a
// line, with its timestamp) instead of sending them: what -dry-run injects.
type TextWriter struct {
	w io.Writer
}

// NewTextWriter returns a TextWriter printing to w.
func NewTextWriter(w io.Writer) *TextWriter { return &TextWriter{w: w} }

// Write validates the request exactly as Client.Write does, then prints it.
func (t *TextWriter) Write(_ context.Context, series []Series) error {
	if err := Validate(series); err != nil {
		return err
	}
	bw := bufio.NewWriter(t.w)
	var line []byte
	for _, s := range series {
		name, labels := "", make([]Label, 0, len(s.Labels))
		for _, l := range s.Labels {
			switch {
			case l.Name == "__name__":
				name = l.Value
			case l.Value != "":
				labels = append(labels, l)
			}
		}
		slices.SortFunc(labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
		var b strings.Builder
		b.WriteString(name)
		if len(labels) > 0 {
			b.WriteByte('{')
			for i, l := range labels {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(l.Name)
				b.WriteByte('=')
				b.WriteString(strconv.Quote(l.Value))
			}
			b.WriteByte('}')
		}
		prefix := b.String()
		for _, smp := range s.Samples {
			line = append(line[:0], prefix...)
			line = append(line, ' ')
			line = strconv.AppendFloat(line, smp.V, 'g', -1, 64)
			line = append(line, ' ')
			line = strconv.AppendInt(line, smp.T, 10)
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}
