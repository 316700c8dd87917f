"""The chat skills, one module each (``tasks``, ``agenda``, ``preferences``, ``memory``,
``flights``): its tool schemas, its pure state handlers, the offline model's recognisers
and its reply text. ``registry`` lists them; ``core`` is what the chat turn calls; ``when``
is the offline model's date/time grammar. See the README's "Adding a skill"."""
