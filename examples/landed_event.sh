# Record that a partition has landed (arrival.mode: queue): starts ingest of that day.
curl -sS --fail-with-body -X POST "$AIRFLOW_URL/api/v2/assets/events" \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"asset_id": 6, "extra": {"partition": "2026-03-03"}}'
