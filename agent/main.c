// SPDX-License-Identifier: Apache-2.0
/* placeholder: the agent's main, filled in with `kagi collect` */
int main(void)
{
	return 0;
}
