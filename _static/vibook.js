// vibook: nothing yet.
