// Executes wasm `unreachable` (__builtin_trap): expect trap "unreachable".
int main(void) { __builtin_trap(); }
