/* The agent's allowed region for syscall user dispatch: syscalls issued from between
 * mvr_allowed_start and mvr_allowed_end are never trapped. Nothing else lives here. */
	.section .text.mvr_allowed,"ax",@progbits
	.globl mvr_allowed_start
	.hidden mvr_allowed_start
mvr_allowed_start:

/* long mvr_raw_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) */
	.globl mvr_raw_syscall
	.hidden mvr_raw_syscall
	.type mvr_raw_syscall,@function
mvr_raw_syscall:
	movq %rdi, %rax
	movq %rsi, %rdi
	movq %rdx, %rsi
	movq %rcx, %rdx
	movq %r8, %r10
	movq %r9, %r8
	movq 8(%rsp), %r9
	syscall
	ret
	.size mvr_raw_syscall, .-mvr_raw_syscall

/* Signal restorer for every handler (ours and the application's): rt_sigreturn from here is
 * allowed, so a handler may return while the selector still blocks. */
	.globl mvr_restorer
	.hidden mvr_restorer
	.type mvr_restorer,@function
mvr_restorer:
	movq $15, %rax
	syscall
	hlt
	.size mvr_restorer, .-mvr_restorer

/* New processes (fork, vfork, clone without CLONE_THREAD): the SIGSYS handler points the saved
 * RIP here with RAX = the syscall number, the application's registers otherwise intact, and its
 * return address in the thread-local mvr_native_ret (a fork child has its own copy, a vfork child
 * shares its suspended parent's). After the syscall, parent and child each call
 * mvr_after_create(result), which records the event or arms the child and returns the value the
 * application sees; the registers the application relies on are saved below its red zone. */
	.globl mvr_create_stub
	.hidden mvr_create_stub
	.type mvr_create_stub,@function
mvr_create_stub:
	syscall
	subq $128, %rsp
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %rbx
	movq %rsp, %rbx
	andq $-16, %rsp
	movq %rax, %rdi
	call mvr_after_create
	movq %rbx, %rsp
	popq %rbx
	popq %r10
	popq %r9
	popq %r8
	popq %rdx
	popq %rsi
	popq %rdi
	addq $128, %rsp
	movq mvr_native_ret@gottpoff(%rip), %rcx
	movq %fs:(%rcx), %rcx
	jmp *%rcx
	.size mvr_create_stub, .-mvr_create_stub

/* Thread creation (clone/clone3 with CLONE_THREAD). The parent continues as above. The child
 * starts on its fresh stack, where the parent's handler left two words below the initial stack
 * pointer: -8 = the ring (thread pair) index, -16 = the application's return address. The child
 * saves the registers the application's clone code relies on, arms syscall user dispatch for
 * itself (mvr_thread_start; a new thread does not inherit it), restores them and returns 0. */
	.globl mvr_thread_stub
	.hidden mvr_thread_stub
	.type mvr_thread_stub,@function
mvr_thread_stub:
	syscall
	testq %rax, %rax
	jz 1f
	movq mvr_native_ret@gottpoff(%rip), %rcx
	movq %fs:(%rcx), %rcx
	jmp *%rcx
1:
	movq -16(%rsp), %rcx
	movq -8(%rsp), %r11
	pushq %rcx
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %rbx
	movq %rsp, %rbx
	andq $-16, %rsp
	movq %r11, %rdi
	call mvr_thread_start
	movq %rbx, %rsp
	popq %rbx
	popq %r10
	popq %r9
	popq %r8
	popq %rdx
	popq %rsi
	popq %rdi
	popq %rcx
	xorl %eax, %eax
	jmp *%rcx
	.size mvr_thread_stub, .-mvr_thread_stub

	.globl mvr_allowed_end
	.hidden mvr_allowed_end
mvr_allowed_end:
	nop

	.section .note.GNU-stack,"",@progbits
