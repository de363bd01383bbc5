/* Placeholder until the emulator lands. */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "iotlua-emulator: not built yet\n");
    return 1;
}
