package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Batch uploads and downloads over plain HTTP, beside the REST routes of BatchService:
//
//	POST /v1/batches?method=pkg.Service/Method   Content-Type: application/x-ndjson or text/csv
//	GET  /v1/batches/{id}/results.ndjson
//	GET  /v1/batches/{id}/results.csv
//
// Each is one call (or a call per page) of BatchService through s.call, so authentication,
// scopes, audit and metrics hold as for the REST routes. A POST with any other Content-Type is
// the REST route (a JSON SubmitBatchRequest).

const (
	procSubmitBatch      = "/agentbridge.v1.BatchService/SubmitBatch"
	procListBatchResults = "/agentbridge.v1.BatchService/ListBatchResults"
)

// mountBatchHTTP adds the batch upload and download routes to mux when g serves BatchService;
// rest serves a JSON SubmitBatch.
func (s *Server) mountBatchHTTP(mux *http.ServeMux, g *generation, rest http.Handler) {
	var hub *batchHub
	for _, svc := range g.services {
		for _, c := range svc.Closers {
			if h, ok := c.(*batchHub); ok {
				hub = h
			}
		}
	}
	submit, list := g.methods[procSubmitBatch], g.methods[procListBatchResults]
	if hub == nil || submit == nil || list == nil {
		return
	}
	mux.HandleFunc("POST /v1/batches", func(w http.ResponseWriter, r *http.Request) {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		format := ""
		switch ct {
		case "application/x-ndjson", "application/ndjson", "application/jsonl":
			format = "ndjson"
		case "text/csv":
			format = "csv"
		default:
			rest.ServeHTTP(w, r)
			return
		}
		body := http.MaxBytesReader(w, r.Body, hub.config().MaxUploadBytes)
		ctx, ts := incomingContext(r.Context(), SurfaceREST, procSubmitBatch, r.Header)
		ctx = context.WithValue(ctx, batchUploadKey{}, &batchUpload{body: body, format: format})
		resp, err := s.call(ctx, submit, &agentbridgev1.SubmitBatchRequest{Method: r.URL.Query().Get("method")})
		header, _ := ts.snapshot()
		for k, vs := range header {
			if name, ok := restMetadataToHeader(k); ok {
				for _, v := range vs {
					w.Header().Add(name, v)
				}
			}
		}
		if err != nil {
			writeStatus(w, r, status.Convert(err))
			return
		}
		data, err := g.jsonEncoder().Marshal(resp)
		if err != nil {
			writeStatus(w, r, status.New(codes.Internal, "the response could not be written"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(data)
	})
	mux.HandleFunc("GET /v1/batches/{id}/results.ndjson", func(w http.ResponseWriter, r *http.Request) {
		s.downloadBatch(w, r, g, list, "ndjson")
	})
	mux.HandleFunc("GET /v1/batches/{id}/results.csv", func(w http.ResponseWriter, r *http.Request) {
		s.downloadBatch(w, r, g, list, "csv")
	})
}

// downloadBatch writes every item of a batch, a page at a time, as NDJSON (one
// BatchItemResult per line) or CSV (index, line, state, code, message, reason, then one column
// per field of the method's response).
func (s *Server) downloadBatch(w http.ResponseWriter, r *http.Request, g *generation, list *method, format string) {
	id := r.PathValue("id")
	onlyFailed, _ := strconv.ParseBool(r.URL.Query().Get("only_failed"))
	req := &agentbridgev1.ListBatchResultsRequest{Id: id, PageSize: 1000, OnlyFailed: onlyFailed}
	enc := g.jsonEncoder()
	var cw *csv.Writer
	var fields []string
	flusher, _ := w.(http.Flusher)
	for page := 0; ; page++ {
		ctx, _ := incomingContext(r.Context(), SurfaceREST, procListBatchResults, r.Header)
		out, err := s.call(ctx, list, req)
		if err != nil {
			if page == 0 {
				writeStatus(w, r, status.Convert(err))
				return
			}
			if format == "ndjson" {
				// The status is sent; a last line says the download is incomplete.
				line, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status.Code(err).String(), "message": status.Convert(err).Message()}})
				_, _ = w.Write(append(line, '\n'))
			} else if cw != nil {
				cw.Flush()
			}
			// And the response ends abnormally (the chunked body is cut, not closed), so no
			// client takes the rows so far for the whole file: CSV has no line to say so.
			s.log.Warn("batch results download cut short", "batch", id, "format", format, "err", err)
			panic(http.ErrAbortHandler)
		}
		resp := out.(*agentbridgev1.ListBatchResultsResponse)
		if page == 0 {
			w.Header().Set("Content-Disposition", "attachment; filename=\""+id+"."+format+"\"")
			if format == "csv" {
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
				cw = csv.NewWriter(w)
				if m := g.methods[resp.GetBatch().GetMethod()]; m != nil {
					outFields := m.desc.Output().Fields()
					for i := range outFields.Len() {
						fields = append(fields, outFields.Get(i).JSONName())
					}
				}
				_ = cw.Write(append([]string{"index", "line", "state", "code", "message", "reason"}, fields...))
			} else {
				w.Header().Set("Content-Type", "application/x-ndjson")
			}
		}
		for _, item := range resp.GetResults() {
			if format == "ndjson" {
				line, err := enc.Marshal(item)
				if err != nil {
					line, _ = protojson.Marshal(item)
				}
				if _, err := w.Write(append(line, '\n')); err != nil {
					return
				}
				continue
			}
			row := []string{strconv.FormatInt(item.GetIndex(), 10), strconv.FormatInt(item.GetLine(), 10),
				item.GetState().String(), item.GetCode(), item.GetMessage(), item.GetReason()}
			for _, f := range fields {
				row = append(row, csvCell(item.GetResponse().GetFields()[f]))
			}
			if err := cw.Write(row); err != nil {
				return
			}
		}
		if cw != nil {
			cw.Flush()
		}
		if flusher != nil {
			flusher.Flush()
		}
		if resp.GetNextPageToken() == "" {
			return
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// csvCell writes a response value as a CSV cell: strings as they are, anything else as JSON.
func csvCell(v *structpb.Value) string {
	if v == nil {
		return ""
	}
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	data, err := protojson.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}
