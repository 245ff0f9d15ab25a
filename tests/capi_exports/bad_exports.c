/* The negative control of capi_exports: a library that exports one mart_ function and one
 * other symbol, which the check must name. */
int mart_version_number(void);
int leaked_symbol(void);
int mart_version_number(void) { return 100; }
int leaked_symbol(void) { return 1; }
