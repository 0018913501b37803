package exports

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"
)

// ContentType is the media type of the exports.
const ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// workbook is one single-sheet .xlsx built with excelize's StreamWriter: rows go to the sheet's
// XML as they come (excelize keeps 16 MiB in memory and spills the rest to a temporary file),
// so memory stays flat whatever the row count. Not safe for concurrent use.
type workbook struct {
	f     *excelize.File
	sw    *excelize.StreamWriter
	row   int
	date  int // style id: yyyy-mm-dd hh:mm:ss
	cells []any
}

// newWorkbook starts a workbook whose only sheet is named sheet, with a bold, frozen header row.
// tmpDir "" is the system's temporary directory.
func newWorkbook(sheet string, headers []string, widths []float64, tmpDir string) (_ *workbook, err error) {
	f := excelize.NewFile(excelize.Options{TmpDir: tmpDir})
	defer func() {
		if err != nil {
			err = closeWith(f, err)
		}
	}()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, fmt.Errorf("exports: sheet name: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, fmt.Errorf("exports: style: %w", err)
	}
	layout := "yyyy-mm-dd hh:mm:ss"
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: &layout})
	if err != nil {
		return nil, fmt.Errorf("exports: style: %w", err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, fmt.Errorf("exports: stream writer: %w", err)
	}
	// Column widths and panes must come before the first row.
	for i, w := range widths {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return nil, fmt.Errorf("exports: column width: %w", err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, fmt.Errorf("exports: panes: %w", err)
	}
	head := make([]any, len(headers))
	for i, h := range headers {
		head[i] = excelize.Cell{StyleID: bold, Value: h}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return nil, fmt.Errorf("exports: header: %w", err)
	}
	return &workbook{f: f, sw: sw, row: 1, date: date, cells: make([]any, 0, len(headers))}, nil
}

// add appends one row. Values: string, int64, int, float64, bool, time.Time (written in UTC
// with the date style; the zero time as an empty cell).
func (w *workbook) add(values ...any) error {
	w.cells = w.cells[:0]
	for _, v := range values {
		if t, ok := v.(time.Time); ok {
			if t.IsZero() {
				v = nil
			} else {
				v = excelize.Cell{StyleID: w.date, Value: t.UTC()}
			}
		}
		w.cells = append(w.cells, v)
	}
	w.row++
	cell, err := excelize.CoordinatesToCellName(1, w.row)
	if err != nil {
		return fmt.Errorf("exports: row %d: %w", w.row, err)
	}
	if err := w.sw.SetRow(cell, w.cells); err != nil {
		return fmt.Errorf("exports: row %d: %w", w.row, err)
	}
	return nil
}

// rows is the number of data rows (without the header).
func (w *workbook) rows() int { return w.row - 1 }

// finish flushes the sheet; the workbook can then be written.
func (w *workbook) finish() error {
	if err := w.sw.Flush(); err != nil {
		return fmt.Errorf("exports: flush: %w", err)
	}
	return nil
}

// writeTo zips the workbook straight into out. excelize's WriteTo would first build the whole
// zip in a bytes.Buffer (the file's size in memory, ~90 MB for a million rides); its ZipWriter
// hook gets that buffer, so the hook below ignores it and writes to out instead, with
// flate.BestSpeed (deflate was half of the export's CPU at the default level, for ~25 % more
// bytes). The buffer must stay empty: if a future excelize wrote there, it fails loudly.
func (w *workbook) writeTo(out io.Writer) error {
	bw := bufio.NewWriterSize(out, 256<<10) // few large writes to the connection
	w.f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw := zip.NewWriter(bw)
		zw.RegisterCompressor(zip.Deflate, func(o io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(o, flate.BestSpeed)
		})
		return zw
	})
	var rest countWriter
	if _, err := w.f.WriteTo(&rest); err != nil {
		return fmt.Errorf("exports: write: %w", err)
	}
	if rest.n != 0 {
		return fmt.Errorf("exports: write: excelize wrote %d bytes outside the zip writer", rest.n)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("exports: write: %w", err)
	}
	return nil
}

// countWriter counts and drops what is written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// close removes the temporary files.
func (w *workbook) close() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("exports: close: %w", err)
	}
	return nil
}

func closeWith(f *excelize.File, err error) error {
	if cerr := f.Close(); cerr != nil {
		return fmt.Errorf("%w (close: %w)", err, cerr)
	}
	return err
}

// optTime turns an optional time into a cell value (nil: empty cell).
func optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// optInt64 and optFloat turn optional numbers into cell values (nil: empty cell).
func optInt64(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

func optFloat(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}
