"""Data: demo source (synth), ingestion, GX validation, labelled training windows."""
