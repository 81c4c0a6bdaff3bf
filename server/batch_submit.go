package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/store"
)

// batchUploadKey carries an NDJSON or CSV request body, streamed to SubmitBatch by the upload
// handler (POST /v1/batches with Content-Type application/x-ndjson or text/csv).
type batchUploadKey struct{}

type batchUpload struct {
	body   io.Reader
	format string // "ndjson" or "csv"
}

// maxBatchLine bounds one NDJSON line or CSV row.
const maxBatchLine = 1 << 20

// submit implements SubmitBatch.
func (h *batchHub) submit(ctx context.Context, req *agentbridgev1.SubmitBatchRequest) (*agentbridgev1.SubmitBatchResponse, error) {
	cfg := h.config()
	procedure := normalizeProcedure(req.GetMethod())
	if req.GetMethod() == "" {
		return nil, status.Error(codes.InvalidArgument, "method is empty: name the method each item calls, such as package.Service/Method")
	}
	g := h.srv.gen.Load()
	m := g.methods[procedure]
	if m == nil {
		return nil, status.Errorf(codes.NotFound, "no method %s is served here; name one as package.Service/Method (see tools/list or /openapi.json)", procedure)
	}
	if m.stream != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s streams its response; a batch calls unary methods", procedure)
	}
	if m.desc.Parent().FullName() == "agentbridge.v1.BatchService" {
		return nil, status.Error(codes.InvalidArgument, "a batch cannot call BatchService itself")
	}
	p := PrincipalFromContext(ctx)
	if h.srv.auth != nil {
		if p == nil {
			return nil, status.Error(codes.Unauthenticated, "a batch needs an authenticated caller")
		}
		if err := h.srv.auth.scopes.check(p, m.desc); err != nil {
			return nil, err
		}
	}
	upload, _ := ctx.Value(batchUploadKey{}).(*batchUpload)
	given := 0
	for _, set := range []bool{len(req.GetItems()) > 0, len(req.GetJsonItems()) > 0, req.GetNdjson() != "", req.GetCsv() != "", upload != nil} {
		if set {
			given++
		}
	}
	if given != 1 {
		return nil, status.Error(codes.InvalidArgument, "give the inputs in exactly one of items, json_items, ndjson and csv (or upload NDJSON or CSV)")
	}
	if n := len(req.GetItems()) + len(req.GetJsonItems()); n > cfg.MaxItems {
		return nil, tooManyItems(cfg.MaxItems)
	}
	job := batchJob{ID: newBatchID(), Method: procedure, State: int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING), Created: time.Now().UTC()}
	if p != nil {
		job.By = &batchPrincipal{ID: p.ID, Scopes: p.Scopes, Method: p.Method}
	}
	w := &batchWriter{ctx: ctx, st: h.st, table: batchItemsTable(job.ID), max: int64(cfg.MaxItems)}
	var err error
	switch {
	case len(req.GetItems()) > 0:
		for _, it := range req.GetItems() {
			data, merr := protojson.Marshal(it)
			if merr != nil {
				err = w.add(batchInput{Err: "the item cannot be written as JSON"})
			} else {
				err = w.add(batchInput{JSON: data})
			}
			if err != nil {
				break
			}
		}
	case len(req.GetJsonItems()) > 0:
		for i, text := range req.GetJsonItems() {
			if err = w.add(jsonInput([]byte(text), 0, fmt.Sprintf("json_items[%d]", i))); err != nil {
				break
			}
		}
	case req.GetNdjson() != "":
		err = readNDJSON(strings.NewReader(req.GetNdjson()), w)
	case req.GetCsv() != "":
		err = readCSV(strings.NewReader(req.GetCsv()), m.desc.Input(), w)
	case upload.format == "csv":
		err = readCSV(upload.body, m.desc.Input(), w)
	default:
		err = readNDJSON(upload.body, w)
	}
	if err == nil {
		err = w.flush()
	}
	if err == nil && w.n == 0 {
		err = status.Error(codes.InvalidArgument, "the batch has no items")
	}
	if err != nil {
		_ = h.st.Delete(context.WithoutCancel(ctx), job.table())
		if _, ok := status.FromError(err); !ok {
			err = batchStoreError(err)
		}
		return nil, err
	}
	job.Total = w.n
	// Hold the start from before the record says running until the run is registered, so no
	// scan for stalled jobs takes the new one first.
	release, _ := h.claimStart(job.ID)
	defer release()
	var lease *batchLease
	if on, _ := h.leaseOn(); on {
		// Before the record says running, so no other replica's scan takes the new job first.
		// Not had (the store failed): a scan of some replica takes the job over.
		lease, _, _ = h.acquireLease(ctx, job.ID)
	}
	if err := h.saveJob(ctx, &job); err != nil {
		_ = h.st.Delete(context.WithoutCancel(ctx), job.table())
		return nil, batchStoreError(err)
	}
	h.log.Info("batch submitted", "batch", job.ID, "method", procedure, "items", job.Total)
	if run := h.start(job, false, lease); run != nil {
		return &agentbridgev1.SubmitBatchResponse{Batch: batchView(run.snapshot(), run)}, nil
	}
	return &agentbridgev1.SubmitBatchResponse{Batch: batchView(job, nil)}, nil
}

func (job batchJob) table() string { return batchItemsTable(job.ID) }

func tooManyItems(limit int) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("the batch has more than %d items, the limit this bridge takes (batches.max_items); split it into batches of at most %d", limit, limit))
	if ds, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "BATCH_TOO_LARGE", Domain: "agentbridge", Metadata: map[string]string{"max_items": strconv.Itoa(limit)}}); err == nil {
		st = ds
	}
	return st.Err()
}

// batchWriter stores inputs a page at a time, so an upload never sits in memory whole.
type batchWriter struct {
	ctx   context.Context
	st    store.Store
	table string
	max   int64
	n     int64
	page  []store.KV
}

func (w *batchWriter) add(in batchInput) error {
	if w.n >= w.max {
		return tooManyItems(int(w.max))
	}
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	w.page = append(w.page, store.KV{Key: batchKey(w.n), Value: data})
	w.n++
	if len(w.page) >= 1000 {
		return w.flush()
	}
	return nil
}

func (w *batchWriter) flush() error {
	if len(w.page) == 0 {
		return nil
	}
	err := w.st.Put(w.ctx, w.table, w.page...)
	w.page = w.page[:0]
	return err
}

// jsonInput is an input read from JSON text: an object, or why not.
func jsonInput(data []byte, line int64, where string) batchInput {
	data = bytes.TrimSpace(data)
	in := batchInput{Line: line}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		in.Err = lineText(line, fmt.Sprintf("%s is not valid JSON: %v", where, err))
		return in
	}
	if len(data) == 0 || data[0] != '{' {
		in.Err = lineText(line, where+" is not a JSON object; each item is the method's request as an object")
		return in
	}
	in.JSON = append(json.RawMessage(nil), data...)
	return in
}

// readNDJSON reads one input per non-blank line.
func readNDJSON(r io.Reader, w *batchWriter) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var line int64
	for {
		data, err := readBatchLine(br)
		if len(data) > 0 || err == nil || errors.Is(err, errLongLine) {
			line++
		}
		if errors.Is(err, errLongLine) {
			if aerr := w.add(batchInput{Line: line, Err: lineText(line, fmt.Sprintf("the line is longer than %d bytes", maxBatchLine))}); aerr != nil {
				return aerr
			}
			continue
		}
		if len(bytes.TrimSpace(data)) > 0 {
			if aerr := w.add(jsonInput(data, line, "the line")); aerr != nil {
				return aerr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return uploadError(err)
		}
	}
}

var errLongLine = errors.New("line too long")

// readBatchLine reads a line without its end; a line over maxBatchLine is skipped to its end and
// reported as errLongLine.
func readBatchLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(out)+len(chunk) > maxBatchLine {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLongLine
		}
		out = append(out, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(out, "\r\n"), err
	}
}

func uploadError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return status.Errorf(codes.InvalidArgument, "the upload is larger than %d bytes (batches.max_upload_bytes)", mb.Limit)
	}
	return status.Errorf(codes.InvalidArgument, "the upload could not be read: %v", err)
}

// readCSV reads one input per row after the header, whose columns name request fields by JSON
// (or proto) name, dotted for nested fields.
func readCSV(r io.Reader, md protoreflect.MessageDescriptor, w *batchWriter) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return status.Error(codes.InvalidArgument, "the CSV is empty: its first row names the request fields")
	}
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "the CSV header cannot be read: %v", err)
	}
	cols := make([]csvColumn, len(header))
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		col, cerr := csvColumnFor(md, name)
		if cerr != nil {
			return status.Errorf(codes.InvalidArgument, "CSV column %d (%q): %v", i+1, name, cerr)
		}
		cols[i] = col
	}
	if err := checkCSVColumns(header, cols); err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line := int64(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line = int64(pe.StartLine)
			if aerr := w.add(batchInput{Line: line, Err: lineText(line, "the CSV row cannot be read: "+pe.Err.Error())}); aerr != nil {
				return aerr
			}
			continue
		}
		if err != nil {
			return uploadError(err)
		}
		l, _ := cr.FieldPos(0)
		line = int64(l)
		if len(rec) != len(cols) {
			if aerr := w.add(batchInput{Line: line, Err: lineText(line, fmt.Sprintf("the row has %d cells, the header %d", len(rec), len(cols)))}); aerr != nil {
				return aerr
			}
			continue
		}
		obj := map[string]any{}
		for i, cell := range rec {
			if cell == "" {
				continue
			}
			cols[i].set(obj, cell)
		}
		data, _ := json.Marshal(obj)
		if aerr := w.add(batchInput{Line: line, JSON: data}); aerr != nil {
			return aerr
		}
	}
}

// checkCSVColumns refuses a header where two columns would write the same request field, or
// one column a field inside another's ("item" and "item.sku"): one cell would overwrite the
// other without a word.
func checkCSVColumns(header []string, cols []csvColumn) error {
	seen := make(map[string]int, len(cols))
	for i, c := range cols {
		key := strings.Join(c.path, ".")
		if j, ok := seen[key]; ok {
			return status.Errorf(codes.InvalidArgument, "CSV columns %d (%q) and %d (%q) both name the field %s", j+1, header[j], i+1, header[i], key)
		}
		seen[key] = i
	}
	for i, c := range cols {
		for k := 1; k < len(c.path); k++ {
			if j, ok := seen[strings.Join(c.path[:k], ".")]; ok {
				return status.Errorf(codes.InvalidArgument, "CSV column %d (%q) sets the field %s as a whole and column %d (%q) a field inside it; use one or the other", j+1, header[j], strings.Join(c.path[:k], "."), i+1, header[i])
			}
		}
	}
	return nil
}

// csvColumn is a header cell: the JSON path of a field and whether its cells are JSON text
// (numbers, booleans, messages, lists) or strings.
type csvColumn struct {
	path []string
	raw  bool
}

func csvColumnFor(md protoreflect.MessageDescriptor, name string) (csvColumn, error) {
	if name == "" {
		return csvColumn{}, errors.New("the column has no name")
	}
	var col csvColumn
	parts := strings.Split(name, ".")
	for i, part := range parts {
		if md == nil {
			return col, fmt.Errorf("%s is not a message, so it has no field %s", strings.Join(parts[:i], "."), part)
		}
		fd := md.Fields().ByJSONName(part)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(part))
		}
		if fd == nil {
			return col, fmt.Errorf("%s has no field %s", md.FullName(), part)
		}
		col.path = append(col.path, fd.JSONName())
		md = nil
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() && !isWellKnownScalar(fd.Message()) {
			md = fd.Message()
		}
		switch {
		case fd.IsList() || fd.IsMap() || (fd.Message() != nil && !isWellKnownScalar(fd.Message())):
			col.raw = true
		case fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BytesKind || fd.Kind() == protoreflect.EnumKind || fd.Message() != nil:
			col.raw = false
		default:
			col.raw = true
		}
	}
	return col, nil
}

// isWellKnownScalar reports messages whose JSON form is a string (times, durations, wrappers
// written as text).
func isWellKnownScalar(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return true
	}
	return false
}

func (c csvColumn) set(obj map[string]any, cell string) {
	for _, k := range c.path[:len(c.path)-1] {
		next, ok := obj[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[k] = next
		}
		obj = next
	}
	var v any = cell
	if c.raw && json.Valid([]byte(cell)) {
		v = json.RawMessage(cell)
	}
	obj[c.path[len(c.path)-1]] = v
}

// batchView is the API form of a job.
func batchView(job batchJob, run *batchRun) *agentbridgev1.Batch {
	b := &agentbridgev1.Batch{
		Id: job.ID, Method: job.Method, State: agentbridgev1.BatchState(job.State), Total: job.Total,
		Succeeded: job.Succeeded, Failed: job.Failed, CreatedAt: timestamppb.New(job.Created), Retries: job.Retries,
	}
	if job.By != nil {
		b.SubmittedBy = job.By.ID
	}
	if !job.Done.IsZero() {
		b.FinishedAt = timestamppb.New(job.Done)
	}
	b.Remaining = max(0, job.Total-job.Succeeded-job.Failed)
	if run != nil && b.State == agentbridgev1.BatchState_BATCH_STATE_RUNNING {
		b.ItemsPerSecond = run.rate()
		if b.ItemsPerSecond > 0 {
			b.EstimatedRemaining = durationpb.New(time.Duration(float64(b.Remaining) / b.ItemsPerSecond * float64(time.Second)).Round(time.Second))
		}
	}
	return b
}

// list implements ListBatchResults.
func (h *batchHub) list(ctx context.Context, req *agentbridgev1.ListBatchResultsRequest) (*agentbridgev1.ListBatchResultsResponse, error) {
	job, run, err := h.loadJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if err := h.mayRead(ctx, job); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = 100
	}
	size = min(size, 1000)
	from := int64(0)
	if t := req.GetPageToken(); t != "" {
		if from, err = strconv.ParseInt(t, 10, 64); err != nil || from < 0 {
			return nil, status.Error(codes.InvalidArgument, "page_token is not one this method returned")
		}
	}
	out := &agentbridgev1.ListBatchResultsResponse{Batch: batchView(job, run)}
	g := h.srv.gen.Load()
	for scanned := 0; len(out.Results) < size && scanned < 20; scanned++ {
		inputs, err := h.st.Scan(ctx, batchItemsTable(job.ID), batchKey(from), "", size)
		if err != nil {
			return nil, batchStoreError(err)
		}
		if len(inputs) == 0 {
			from = job.Total
			break
		}
		results, err := h.st.Scan(ctx, batchResultsTable(job.ID), inputs[0].Key, inputs[len(inputs)-1].Key+"\x00", size)
		if err != nil {
			return nil, batchStoreError(err)
		}
		have := make(map[string][]byte, len(results))
		for _, kv := range results {
			have[kv.Key] = kv.Value
		}
		for _, kv := range inputs {
			idx, _ := strconv.ParseInt(kv.Key, 10, 64)
			from = idx + 1
			item := itemView(g, job, idx, kv.Value, have[kv.Key])
			if req.GetOnlyFailed() && item.State != agentbridgev1.BatchItemState_BATCH_ITEM_STATE_FAILED {
				continue
			}
			out.Results = append(out.Results, item)
			if len(out.Results) == size {
				break
			}
		}
		if len(inputs) < size {
			if len(out.Results) < size {
				from = job.Total
			}
			break
		}
	}
	if from < job.Total {
		out.NextPageToken = strconv.FormatInt(from, 10)
	}
	return out, nil
}

// itemView is the API form of one item.
func itemView(g *generation, job batchJob, idx int64, input, result []byte) *agentbridgev1.BatchItemResult {
	var in batchInput
	_ = json.Unmarshal(input, &in)
	item := &agentbridgev1.BatchItemResult{Index: idx, Line: in.Line}
	var res batchResult
	if result == nil || json.Unmarshal(result, &res) != nil {
		item.State = agentbridgev1.BatchItemState_BATCH_ITEM_STATE_PENDING
		if job.State == int32(agentbridgev1.BatchState_BATCH_STATE_CANCELLED) {
			item.State = agentbridgev1.BatchItemState_BATCH_ITEM_STATE_NOT_RUN
			item.Code = code.Code_CANCELLED.String()
			item.Message = "not run: the batch was cancelled"
		}
		return item
	}
	item.State = agentbridgev1.BatchItemState(res.State)
	item.Attempts = res.Attempts
	item.Code = code.Code(res.Code).String()
	if job.State == int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) && res.State == int32(agentbridgev1.BatchItemState_BATCH_ITEM_STATE_FAILED) && res.Gen < job.Retries && (!res.Unknown || job.RetryUnknown) {
		item.State = agentbridgev1.BatchItemState_BATCH_ITEM_STATE_PENDING // runs again
	}
	if len(res.Status) > 0 {
		var st spb.Status
		if proto.Unmarshal(res.Status, &st) == nil {
			item.Message = st.GetMessage()
			item.Details = st.GetDetails()
			if info := errorInfoOf(status.FromProto(&st)); info != nil {
				item.Reason = info.GetReason()
				item.Metadata = info.GetMetadata()
			}
		}
	}
	if len(res.Response) > 0 {
		s := new(structpb.Struct)
		if protojson.Unmarshal(res.Response, s) == nil {
			item.Response = s
		}
	}
	return item
}

// watch implements WatchBatch: progress until the batch ends. Over MCP with a progress token,
// each report is also a notifications/progress (items with an outcome of the total).
func (h *batchHub) watch(ctx context.Context, req *agentbridgev1.WatchBatchRequest, send func(proto.Message) error) error {
	every := time.Second
	if d := req.GetInterval(); d != nil {
		every = max(d.AsDuration(), 50*time.Millisecond)
	}
	var last *agentbridgev1.Batch
	for {
		job, run, err := h.loadJob(ctx, req.GetId())
		if err != nil {
			return err
		}
		if err := h.mayRead(ctx, job); err != nil {
			return err
		}
		b := batchView(job, run)
		if last == nil || b.GetSucceeded() != last.GetSucceeded() || b.GetFailed() != last.GetFailed() || b.GetState() != last.GetState() {
			if p, ok := ctx.Value(progressKey{}).(*progress); ok {
				// Before the message, whose own "collected n messages" report this one
				// outgrows: progress counts the items with an outcome, plus one so the
				// first report is above zero.
				n := b.GetSucceeded() + b.GetFailed()
				p.notify(ctx, float64(n)+1, float64(b.GetTotal())+1, fmt.Sprintf("%d of %d items done, %d failed", n, b.GetTotal(), b.GetFailed()))
			}
			if err := send(&agentbridgev1.WatchBatchResponse{Batch: b}); err != nil {
				return err
			}
			last = b
		}
		if b.GetState() != agentbridgev1.BatchState_BATCH_STATE_RUNNING {
			return nil
		}
		var changed <-chan struct{}
		if run != nil {
			changed = run.waitChange()
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-time.After(every):
		case <-changed:
			select { // at most one report per interval
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			case <-time.After(every):
			}
		}
	}
}
