# jsmn is one header, fetched by vendor/fetch.sh into vendor/jsmn/upstream/.
# Only src/json.c includes it.
JSMN_INC := vendor/jsmn/upstream
