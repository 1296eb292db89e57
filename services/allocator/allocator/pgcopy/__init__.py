"""Result rows in PostgreSQL's binary COPY format, encoded in the compute process
(pure; no driver): the format's parts (`format`), share rows (`flows`), node rows
and their announcements (`nodes`), the delta that carries them to the store
(`delta`)."""
