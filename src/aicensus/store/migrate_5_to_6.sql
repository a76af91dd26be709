-- Schema 5 → 6: each stored model keeps what its attribution rests on (issue 15): `matched_by`
-- is "name" (a catalog name matched), "family" (only the server-reported family did, a weaker
-- signal, confidence below any name match), ...; NULL when nothing was attributed, and for
-- models stored before, which did not record it (not guessed from their confidence).
-- store/schema.py then re-keys the model sets, whose key covers every model column.

ALTER TABLE set_models ADD COLUMN matched_by VARCHAR;
